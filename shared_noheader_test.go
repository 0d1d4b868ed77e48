package mmsb_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
)

// TestSharedRegionWithoutHeaderReclaimed: a writer killed while its Close
// removed the region leaves a directory at the region name without its
// header. A private Open left it (and its page bytes in tmpfs memory),
// since the writer's flock was on the header alone and nothing told it
// from the region of another bus's live writer whose header someone
// removed. Now a writer holds the same flock on the region directory: the
// dead writer's is reclaimed, and a live writer's region without a header
// (played by a region of this process whose header names a process not
// visible from here, as in TestSharedRegionOfInvisibleWriterKept) is kept.
func TestSharedRegionWithoutHeaderReclaimed(t *testing.T) {
	t.Run("dead", func(t *testing.T) {
		dir, shm := t.TempDir(), shmTestDir(t)
		region, err := mmsb.SharedRegionPath(dir, shm)
		if err != nil {
			t.Fatal(err)
		}
		w := startChild(t, childRun, "writer", dir, shm, time.Hour)
		if _, err := w.expect("PROGRESS", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := w.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = w.wait()
		if err := os.Remove(filepath.Join(region, page.ShmHeaderFile)); err != nil {
			t.Fatal(err)
		}
		bus, err := mmsb.Open(dir, &mmsb.Options{SharedDir: shm})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		if _, err := os.Lstat(region); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("region of the killed writer, without its header, still in SharedDir after a private Open: %v", err)
		}
	})
	t.Run("live", func(t *testing.T) {
		dir, shm, region := handMadeRegion(t, 1)
		if err := os.Remove(filepath.Join(region, page.ShmHeaderFile)); err != nil {
			t.Fatal(err)
		}
		bus, err := mmsb.Open(dir, &mmsb.Options{SharedDir: shm})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		if _, err := os.Lstat(filepath.Join(region, "seq")); err != nil {
			t.Fatalf("the region of a live writer whose header was removed was removed by a private Open: %v", err)
		}
		if !page.RegionHeld(region) {
			t.Fatal("RegionHeld of a live writer's region without its header: false")
		}
	})
}
