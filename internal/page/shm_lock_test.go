package page

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestLockShmHeaderWaitsOutAProbe: a writer that takes its header's
// shared flock while a RegionHeld probe (another bus's Open of the same
// region name) holds the exclusive lock for its instant gets the lock
// once the probe let go. Before, one refusal left the writer with no lock
// at all ("lockShmHeader during a probe: no lock").
func TestLockShmHeaderWaitsOutAProbe(t *testing.T) {
	dir, probe := probedHeader(t)
	retries := 0
	lockShmHeaderRetry = func() {
		// The probe ends while the writer waits.
		if retries++; retries == 1 {
			_ = unix.Flock(int(probe.Fd()), unix.LOCK_UN)
		}
	}
	defer func() { lockShmHeaderRetry = nil }()
	f, err := lockShmHeader(dir)
	if f == nil || err != nil {
		t.Fatalf("lockShmHeader during a probe: no lock (%v)", err)
	}
	if !RegionHeld(dir) {
		t.Error("RegionHeld after the writer locked its header: false")
	}
	_ = f.Close()
}

// TestLockShmHeaderHeldFails: a header whose exclusive flock another
// process keeps past lockShmHeaderWait (shortened here) is refused with
// ErrHeaderLocked naming the file, after retries, so that the writer's
// Open fails. Before, the writer went on without its lock, silently
// (after some 100 ms of retries, which a stalled probe outlasts), and its
// region could be taken for a dead writer's and removed by a private Open
// of another bus of the same region name.
func TestLockShmHeaderHeldFails(t *testing.T) {
	dir, _ := probedHeader(t)
	retries := 0
	lockShmHeaderRetry = func() { retries++ }
	saved := lockShmHeaderWait
	lockShmHeaderWait = 20 * time.Millisecond
	defer func() { lockShmHeaderRetry, lockShmHeaderWait = nil, saved }()
	f, err := lockShmHeader(dir)
	if f != nil {
		_ = f.Close()
		t.Fatal("lockShmHeader under an exclusive lock held for good took a lock")
	}
	if !errors.Is(err, ErrHeaderLocked) || !strings.Contains(err.Error(), filepath.Join(dir, ShmHeaderFile)) {
		t.Fatalf("lockShmHeader under an exclusive lock held for good: no lock and error %v; want ErrHeaderLocked naming the header (the writer must not go on unlocked)", err)
	}
	if retries == 0 {
		t.Error("lockShmHeader under a held lock gave up without retrying")
	}
}

// probedHeader makes a header file in a fresh directory and takes its
// exclusive flock on a descriptor of its own, as RegionHeld's probe does
// (held until the test ends or it unlocks).
func probedHeader(t *testing.T) (string, *os.File) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ShmHeaderFile), make([]byte, shmHdrSize), 0o600); err != nil {
		t.Fatal(err)
	}
	probe, err := os.Open(filepath.Join(dir, ShmHeaderFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = probe.Close() })
	if err := unix.Flock(int(probe.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		testutil.Missing(t, "no flock here: %v", err)
	}
	return dir, probe
}

// TestRegionHeldAloneWaitsOutAProbe: a writer's Open asks
// RegionHeldAlone whether its region name is held by another bus's live
// writer, and refuses the region if so. A hold that ends while it asks
// is not one: another process's probe (its exclusive lock, for an
// instant) or a killed writer's shared lock that the kernel drops a few
// microseconds after the bus LOCK. Before, one refused try made the Open
// fail ("RegionHeldAlone while a probe held the header for an instant:
// true"). A writer's lock held for good is still found.
func TestRegionHeldAloneWaitsOutAProbe(t *testing.T) {
	dir, probe := probedHeader(t)
	retries := 0
	regionHeldRetry = func() {
		if retries++; retries == 1 {
			_ = unix.Flock(int(probe.Fd()), unix.LOCK_UN)
		}
	}
	saved := regionHeldWait
	regionHeldWait = 20 * time.Millisecond
	defer func() { regionHeldRetry, regionHeldWait = nil, saved }()
	if RegionHeldAlone(dir) {
		t.Fatal("RegionHeldAlone while a probe held the header for an instant: true; want false (no writer holds it)")
	}

	// A writer's shared lock, held for good.
	if err := unix.Flock(int(probe.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	retries = 2 // past the release above
	if !RegionHeldAlone(dir) {
		t.Fatal("RegionHeldAlone while a writer holds the header: false")
	}
	if retries == 2 {
		t.Error("RegionHeldAlone found a held region without retrying")
	}
}

// TestRegionHeldAloneProbeHeldForGood: a probe's exclusive lock that
// outlasts RegionHeldAlone's retries (its process stopped between its
// flock and its close) is not a writer's hold: a writer holds the lock
// shared, and an exclusive lock excludes every other. Before, the Open
// was refused as if a live writer of another bus held the region
// ("RegionHeldAlone while a probe held the header for good: true").
func TestRegionHeldAloneProbeHeldForGood(t *testing.T) {
	dir, _ := probedHeader(t)
	saved := regionHeldWait
	regionHeldWait = 20 * time.Millisecond
	defer func() { regionHeldWait = saved }()
	if RegionHeldAlone(dir) {
		t.Fatal("RegionHeldAlone while a probe held the header for good: true; want false (no writer holds it)")
	}
}
