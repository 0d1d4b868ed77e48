package mmsb

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/page"
)

// TestSharedPublishRacesOtherBus: a shared Open found a dead region under
// its region name, checked that no writer held it, and then marked and
// removed whatever was there. A writer of another bus whose path gives the
// same region name (another container sharing SharedDir, played here by a
// region this process builds with internal/page and publishes through the
// same publishRegion) could publish its live region between the check and
// the removal: the Open then marked that live region superseded and
// removed it while its writer went on. The hook runs the other writer's
// publication at that moment. Now the Open holds the region name's lock
// from its check to its own publication, so the other writer waits for
// it, then finds this bus's region held and is refused with ErrLocked;
// this bus's region is live and readable, and no lock file is left.
func TestSharedPublishRacesOtherBus(t *testing.T) {
	shm, dir := scratchShmDir(t), t.TempDir()
	final, err := SharedRegionPath(dir, shm)
	if err != nil {
		t.Fatal(err)
	}
	// A dead writer's region, without a header (no writer holds it).
	if err := os.Mkdir(final, 0o700); err != nil {
		t.Fatal(err)
	}
	start, err := page.ProcStartTime(os.Getpid())
	if err != nil {
		t.Skipf("no process start time: %v", err)
	}
	other, err := page.NewShared(final+".building-other", 0o600, 7, uint64(os.Getpid()), start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	if _, err := other.Create(1, 100, 0); err != nil {
		t.Fatal(err)
	}

	otherDone := make(chan error, 1)
	waiting := make(chan struct{})
	var once, waitOnce bool
	page.RegionNameLockRetry = func() {
		if !waitOnce {
			waitOnce = true
			close(waiting)
		}
	}
	sharedReplaceHook = func() {
		if once {
			return
		}
		once = true
		go func() {
			otherDone <- publishRegion(final, func() error { return other.Publish(final, 1) })
		}()
		// The other writer either publishes now (no lock) or waits for
		// this one's lock.
		select {
		case err := <-otherDone:
			otherDone <- err
		case <-waiting:
		}
	}
	t.Cleanup(func() { sharedReplaceHook, page.RegionNameLockRetry = nil, nil })

	bus, err := Open(dir, &Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatalf("shared Open over a dead region: %v", err)
	}
	defer bus.Close()
	if !once {
		t.Fatal("the hook between the check and the replacement did not run")
	}
	otherErr := <-otherDone
	if otherErr == nil {
		r, rerr := page.OpenShmReader(final)
		if rerr == nil {
			defer r.Close()
		}
		t.Fatalf("region of the other bus, published between this Open's check and its replacement, was removed: the other writer's publication succeeded, and the region name now holds generation %v (%v) while that writer goes on", generationOf(r), rerr)
	}
	if !errors.Is(otherErr, ErrLocked) || !strings.Contains(otherErr.Error(), final) {
		t.Fatalf("the other bus's publication after this Open's: %v; want ErrLocked naming %s", otherErr, final)
	}
	r, err := page.OpenShmReader(final)
	if err != nil {
		t.Fatalf("this bus's region after the race: %v", err)
	}
	defer r.Close()
	if st := r.State(); st != page.ShmLive {
		t.Fatalf("state of this bus's region after the race: %d, want live (%d)", st, page.ShmLive)
	}
	if _, err := os.Lstat(final + page.RegionLockSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the region name's lock file is left in SharedDir: %v", err)
	}
}

// generationOf is r's generation, 0 for no reader.
func generationOf(r *page.ShmReader) uint64 {
	if r == nil {
		return 0
	}
	h, _ := r.Header()
	return h.Gen
}
