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

	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestSharedOpenOutOfSpace: an Open whose SharedDir has no room for a new
// region (no inode for the build directory, the header or the chunk
// table; no space for the header's 4 KiB) fails with ErrNoSpace wrapping
// page.ErrNoSpace and ENOSPC, as a create refused for space does, leaves
// nothing in SharedDir and loses nothing committed: once there is room,
// the bus opens with every page. Before, the error wrapped only the raw
// ENOSPC ("mmsb: shared mode: page: shared region ...: open .../header:
// no space left on device"), which no caller could tell from any other
// failed Open without matching errno values.
func TestSharedOpenOutOfSpace(t *testing.T) {
	dir, want := closedBusWithAPage(t)
	for _, tc := range []struct {
		name, opts string
		fill       bool // a file takes the tmpfs's last bytes first
	}{
		{"no inode for the build directory", "nr_inodes=1", false},
		{"no inode for the header", "nr_inodes=2", false},
		{"no inode for the chunk table", "nr_inodes=3", false},
		{"no space for the header", "size=1m", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mnt := t.TempDir()
			if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, tc.opts+",mode=0700"); err != nil {
				testutil.Missing(t, "needs a private tmpfs (root): mount: %v", err)
			}
			t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
			filler := filepath.Join(mnt, "filler")
			if tc.fill {
				f, err := os.Create(filler)
				if err != nil {
					t.Fatal(err)
				}
				// Every byte the tmpfs has: ENOSPC ends the allocation.
				for off := int64(0); ; off += 4096 {
					if err := unix.Fallocate(int(f.Fd()), 0, off, 4096); err != nil {
						break
					}
				}
				_ = f.Close()
			}
			_, err := Open(dir, &Options{Sync: SyncNone, Shared: true, SharedDir: mnt})
			if err == nil {
				t.Fatal("Open built a region in a full SharedDir")
			}
			if !errors.Is(err, ErrNoSpace) || !errors.Is(err, page.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Open = %v; want ErrNoSpace wrapping page.ErrNoSpace and ENOSPC", err)
			}
			ents, _ := os.ReadDir(mnt)
			for _, ent := range ents {
				if ent.Name() != "filler" {
					t.Errorf("after the failed Open %s holds %s", mnt, ent.Name())
				}
			}
			// Room again: the bus opens in shared mode with what it had.
			if tc.fill {
				if err := os.Remove(filler); err != nil {
					t.Fatal(err)
				}
			} else if err := unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_REMOUNT, "nr_inodes=100"); err != nil {
				t.Fatalf("remount with inodes: %v", err)
			}
			e, err := Open(dir, &Options{Sync: SyncNone, Shared: true, SharedDir: mnt})
			if err != nil {
				t.Fatalf("Open with room: %v", err)
			}
			defer func() { _ = e.Close() }()
			if got, err := e.StateHash(); err != nil || got != want {
				t.Fatalf("reopened bus state hash %x (%v), want %x", got, err, want)
			}
		})
	}
}

// TestSharedDirNotWritable: a SharedDir the writer may not write (a
// read-only filesystem; without root, a directory without write
// permission) fails Open with ErrInvalidOption naming SharedDir, as a
// missing one does (TestSharedDirMustBeADirectory), wrapping the cause,
// and the bus opens in shared mode elsewhere with what it had. Before, it
// was the build directory's mkdir error, wrapping no sentinel of the
// package ("mmsb: shared mode: page: shared region: mkdir
// .../mmsb-....building-N: read-only file system").
func TestSharedDirNotWritable(t *testing.T) {
	dir, want := closedBusWithAPage(t)
	var ro string
	if os.Geteuid() == 0 {
		ro = t.TempDir()
		if err := unix.Mount("tmpfs", ro, "tmpfs", unix.MS_RDONLY, "size=1m,mode=0755"); err != nil {
			testutil.Missing(t, "needs a read-only tmpfs (root): mount: %v", err)
		}
		t.Cleanup(func() { _ = unix.Unmount(ro, unix.MNT_DETACH) })
	} else {
		ro = filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Open(dir, &Options{Sync: SyncNone, Shared: true, SharedDir: ro})
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "SharedDir "+ro+" is not writable") ||
		!errors.Is(err, syscall.EROFS) && !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Open with SharedDir %s: %v; want ErrInvalidOption naming SharedDir, wrapping EROFS or EACCES", ro, err)
	}
	opensSharedWith(t, dir, want)
}

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
	dir, want := closedBusWithAPage(t)
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
	opensSharedWith(t, dir, want)
}

// closedBusWithAPage makes a private bus in a fresh directory with one
// page that one commit wrote, closes it, and returns the directory and
// the bus's state hash: what a refused shared Open of that directory must
// not lose.
func closedBusWithAPage(t *testing.T) (dir string, hash uint64) {
	t.Helper()
	dir = t.TempDir()
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
	hash = hashOf(t, e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, hash
}

// opensSharedWith checks that dir, after refused shared Opens, opens in
// shared mode in a usable SharedDir with the state hash want.
func opensSharedWith(t *testing.T, dir string, want uint64) {
	t.Helper()
	e, err := Open(dir, &Options{Sync: SyncNone, Shared: true, SharedDir: scratchShmDir(t)})
	if err != nil {
		t.Fatalf("Open with a usable SharedDir: %v", err)
	}
	defer func() { _ = e.Close() }()
	if got := hashOf(t, e); got != want {
		t.Fatalf("state hash %x after the refused Opens, want %x", got, want)
	}
}
