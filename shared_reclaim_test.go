package mmsb_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/shmtest"
)

// TestSharedRegionReclaimedByPrivateOpen: a shared writer is SIGKILLed, so
// its region (every page's bytes, in tmpfs memory) stays in SharedDir.
// Reopening the bus without Shared used to leave it there for good (only
// a shared Open replaced it); now the Open, which holds the bus LOCK and
// so knows no writer of this bus runs, removes it and the build
// directories of writers that died mid-recovery. A reader attached to the
// dead region (liveness checks off) is told to reopen (ErrStale), and a
// new OpenReader finds no writer.
func TestSharedRegionReclaimedByPrivateOpen(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	region, err := mmsb.SharedRegionPath(dir, shm)
	if err != nil {
		t.Fatal(err)
	}
	w := startChild(t, childRun, "writer", dir, shm, time.Hour)
	if _, err := w.expect("PROGRESS", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	blind, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm, LivenessInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer blind.Close()
	ids, err := blind.Pages()
	if err != nil || len(ids) == 0 {
		t.Fatalf("pages before the kill: %d, %v", len(ids), err)
	}
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = w.wait()
	// A writer that died while recovering leaves its build directory.
	build := region + ".building-2147483647"
	if err := os.Mkdir(build, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(region); err != nil {
		t.Fatalf("the killed writer's region is not there to reclaim: %v", err)
	}

	bus, err := mmsb.Open(dir, &mmsb.Options{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, err := os.Lstat(region); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("region of the killed writer still in SharedDir after a private Open: %v", err)
	}
	if _, err := os.Lstat(build); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("build directory still in SharedDir after a private Open: %v", err)
	}
	if _, _, _, err := blind.ReadPage(ids[0], nil); !errors.Is(err, mmsb.ErrStale) {
		t.Fatalf("reader of the reclaimed region: %v, want ErrStale", err)
	}
	if rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm}); !errors.Is(err, mmsb.ErrWriterGone) {
		if err == nil {
			_ = rd.Close()
		}
		t.Fatalf("OpenReader after the private Open: %v, want ErrWriterGone", err)
	}
	if _, _, err := bus.ReadPage(ids[0], nil); err != nil {
		t.Fatalf("the recovered bus lost page %d: %v", ids[0], err)
	}
}

// TestSharedRegionOfLiveWriterKept is the guard's negative control: a
// region under the bus's name whose header names a live writer (this
// process, playing a writer that holds no LOCK) is left alone by a
// private Open, and its reader goes on reading.
func TestSharedRegionOfLiveWriterKept(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	shmtest.NewWriter(t, dir, shm)
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	bus, err := mmsb.Open(dir, &mmsb.Options{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	b, _, _, err := rd.ReadPage(1, nil)
	if err != nil || len(b) != shmtest.PageSize || b[0] != 1 {
		t.Fatalf("read of a live writer's page after a private Open: %x, %v", b, err)
	}
	region, _ := mmsb.SharedRegionPath(dir, shm)
	if _, err := os.Lstat(region); err != nil {
		t.Fatalf("a live writer's region was removed by a private Open: %v", err)
	}
}

// TestSharedRegionOfInvisibleWriterKept: a region's name is a hash of its
// bus's path, which a bus in another container (sharing /dev/shm, not its
// mounts or PIDs) can share, and there the live writer's process is not
// visible: its header names a process that does not exist here. Played by
// a region of this process whose header names another start time (a
// "recycled PID", so the header check says the writer is gone) but whose
// writer, this process's store, runs. A private Open of a bus by that
// name removed it, marked superseded, and the other bus's readers failed
// (control: "the region of a live writer that is not visible from here
// was removed by a private Open"), and the build directory of that bus's
// writer recovering at the time, whose Open then failed (control: "the
// build directory of a live writer ... was removed"); the writer's flock
// on its header now keeps both.
func TestSharedRegionOfInvisibleWriterKept(t *testing.T) {
	dir, shm, region := handMadeRegion(t, 1)
	if _, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm}); !errors.Is(err, mmsb.ErrWriterGone) {
		t.Fatalf("OpenReader of the region whose writer is not visible: %v, want ErrWriterGone (what a private Open judges by)", err)
	}
	// And that bus's next writer, building its region (recovering) now.
	building := region + ".building-7"
	st, err := page.NewShared(building, 0o600, 2, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	bus, err := mmsb.Open(dir, &mmsb.Options{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, err := os.Lstat(region); err != nil {
		t.Fatalf("the region of a live writer that is not visible from here was removed by a private Open: %v", err)
	}
	if _, err := os.Lstat(building); err != nil {
		t.Fatalf("the build directory of a live writer that is not visible from here was removed by a private Open: %v", err)
	}
	r, err := page.OpenShmReader(region)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st := r.State(); st != page.ShmLive {
		t.Fatalf("state of the kept region: %d, want live (%d)", st, page.ShmLive)
	}
}

// TestSharedOpenRefusesRegionOfLiveWriter: a shared Open whose region
// name is held by another bus's live writer (its header's flock; played
// by a region of this process whose header names a process not visible
// from here, as in TestSharedRegionOfInvisibleWriterKept) refuses with
// ErrLocked naming the region, and leaves that region live and readable.
// Before, it marked the region superseded and replaced it: the other
// bus's readers failed with ErrStale while its writer kept committing.
func TestSharedOpenRefusesRegionOfLiveWriter(t *testing.T) {
	dir, shm, region := handMadeRegion(t, 1)
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm})
	if err == nil {
		_ = bus.Close()
	}
	if !errors.Is(err, mmsb.ErrLocked) || !strings.Contains(err.Error(), region) {
		t.Fatalf("shared Open over the region of a live writer: %v; want ErrLocked naming %s", err, region)
	}
	r, err := page.OpenShmReader(region)
	if err != nil {
		t.Fatalf("the live writer's region after the refused Open: %v", err)
	}
	defer r.Close()
	if st := r.State(); st != page.ShmLive {
		t.Fatalf("state of the live writer's region after the refused Open: %d, want live (%d)", st, page.ShmLive)
	}
	if ents, err := os.ReadDir(shm); err != nil || len(ents) != 1 {
		t.Fatalf("SharedDir after the refused Open holds %d entries (%v), want the live region alone", len(ents), err)
	}
}
