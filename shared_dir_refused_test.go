//go:build linux

package mmsb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestSharedDirCannotHoldRegion: a SharedDir that exists and may be
// written but cannot hold a region fails Open with ErrInvalidOption
// naming SharedDir and wrapping the cause, leaves nothing there, and the
// bus opens in shared mode elsewhere with what it had: a path so long that
// the region's files have no room for their names (ENAMETOOLONG), and, as
// root, a hugetlbfs mount (which refuses a 4 KiB file: EINVAL; a plausible
// mistake for someone after huge pages, docs/shm.md). Before, both were a
// bare errno wrapping no sentinel of the package ("mmsb: shared mode:
// page: shared region ...: open .../header: file name too long",
// "... truncate .../header: invalid argument").
func TestSharedDirCannotHoldRegion(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, &Options{Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.CreatePage(ctx, PageSpec{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{w(id, 0, "kept")}); err != nil {
		t.Fatal(err)
	}
	want := hashOf(t, e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	refused := func(t *testing.T, sharedDir string, cause error) {
		t.Helper()
		_, err := Open(dir, &Options{Sync: SyncNone, Shared: true, SharedDir: sharedDir})
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "SharedDir "+sharedDir) || !errors.Is(err, cause) {
			t.Fatalf("Open with SharedDir %.60s...: %.300v; want ErrInvalidOption naming SharedDir, wrapping %v", sharedDir, err, cause)
		}
		if ents, err := os.ReadDir(sharedDir); err != nil || len(ents) != 0 {
			t.Fatalf("SharedDir after the refused Open: %d entries, %v; want none", len(ents), err)
		}
	}
	t.Run("long path", func(t *testing.T) {
		// A SharedDir that exists, with a path whose region directory
		// still fits in PATH_MAX (4096) but not the files in it.
		long := t.TempDir()
		for n := 4040 - len(long) - 1; n > 0; n = 4040 - len(long) - 1 {
			long = filepath.Join(long, strings.Repeat("d", min(200, n)))
		}
		if err := os.MkdirAll(long, 0o700); err != nil {
			testutil.Missing(t, "a directory with a path of %d bytes: %v", len(long), err)
		}
		refused(t, long, syscall.ENAMETOOLONG)
	})
	t.Run("hugetlbfs", func(t *testing.T) {
		mnt := t.TempDir()
		if err := unix.Mount("none", mnt, "hugetlbfs", 0, "mode=0700"); err != nil {
			if errors.Is(err, unix.ENODEV) {
				t.Skipf("this kernel has no hugetlbfs: %v", err) // its build, not a missing program
			}
			testutil.Missing(t, "needs a hugetlbfs mount (root): %v", err)
		}
		t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
		refused(t, mnt, syscall.EINVAL)
	})
	e, err = Open(dir, &Options{Sync: SyncNone, Shared: true, SharedDir: scratchShmDir(t)})
	if err != nil {
		t.Fatalf("Open with a usable SharedDir: %v", err)
	}
	defer func() { _ = e.Close() }()
	if got := hashOf(t, e); got != want {
		t.Fatalf("state hash %x after the refused Opens, want %x", got, want)
	}
}
