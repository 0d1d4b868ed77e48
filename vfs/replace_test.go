package vfs_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// memFile writes b to name in fs, durably.
func memFile(t *testing.T, fs *vfs.MemFS, name, b string) {
	t.Helper()
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(b)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeString(s string) func(vfs.File) error {
	return func(f vfs.File) error {
		_, err := io.WriteString(f, s)
		return err
	}
}

// TestReplaceFileFailures: each step of ReplaceFile can fail (the fault
// FS fails it once), and each failure is an error naming the step and the
// path, wrapping the cause. Before the rename, the name keeps its old
// file and the temporary is removed (a stale one left by a crash too,
// unless its removal is what failed); after it (the directory's fsync),
// replaced is true and the name holds the new file. With no fault, the
// new file is in place and survives a crash.
func TestReplaceFileFailures(t *testing.T) {
	boom := errors.New("injected")
	const name, tmp = "/d/f", "/d/f.tmp"
	for _, tc := range []struct {
		kind     errorfs.OpKind
		step     string // in the error
		replaced bool
	}{
		{errorfs.OpRemove, "remove " + tmp, false},
		{errorfs.OpCreate, "create " + tmp, false},
		{errorfs.OpWrite, "write " + tmp, false},
		{errorfs.OpSync, "fsync " + tmp, false},
		{errorfs.OpClose, "close " + tmp, false},
		{errorfs.OpRename, "rename " + tmp + " to " + name, false},
		{errorfs.OpSyncDir, "fsync directory /d", true},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			mem := vfs.NewMem()
			if err := vfs.MkdirAllAndSync(mem, "/d"); err != nil {
				t.Fatal(err)
			}
			memFile(t, mem, name, "old")
			memFile(t, mem, tmp, "stale") // what a crash left
			fs := errorfs.Wrap(mem, errorfs.Once(errorfs.OnKind(tc.kind, boom)))
			replaced, err := vfs.ReplaceFile(fs, name, tmp, writeString("new"))
			if err == nil || !errors.Is(err, boom) || !strings.Contains(err.Error(), tc.step) {
				t.Fatalf("%v failed: error %v; want one wrapping the cause and naming %q", tc.kind, err, tc.step)
			}
			if replaced != tc.replaced {
				t.Errorf("replaced = %v, want %v", replaced, tc.replaced)
			}
			want := "old"
			if tc.replaced {
				want = "new"
			}
			if got := string(testutil.ReadFile(t, mem, name)); got != want {
				t.Errorf("%s holds %q after a failed %v, want %q", name, got, tc.kind, want)
			}
			switch {
			case tc.kind == errorfs.OpRemove:
				if got := string(testutil.ReadFile(t, mem, tmp)); got != "stale" {
					t.Errorf("%s holds %q: written through though its removal failed", tmp, got)
				}
			case mem.Exists(tmp):
				t.Errorf("%s left behind after a failed %v", tmp, tc.kind)
			}
		})
	}
	t.Run("write func", func(t *testing.T) {
		mem := vfs.NewMem()
		if err := vfs.MkdirAllAndSync(mem, "/d"); err != nil {
			t.Fatal(err)
		}
		memFile(t, mem, name, "old")
		replaced, err := vfs.ReplaceFile(mem, name, tmp, func(vfs.File) error { return boom })
		if replaced || !errors.Is(err, boom) || !strings.Contains(err.Error(), "write "+tmp) {
			t.Fatalf("replaced %v, %v; want the write's error", replaced, err)
		}
		if got := string(testutil.ReadFile(t, mem, name)); got != "old" || mem.Exists(tmp) {
			t.Fatalf("%s holds %q, %s exists %v; want %q and no temporary", name, got, tmp, mem.Exists(tmp), "old")
		}
	})
	t.Run("no fault", func(t *testing.T) {
		mem := vfs.NewMem()
		if err := vfs.MkdirAllAndSync(mem, "/d"); err != nil {
			t.Fatal(err)
		}
		memFile(t, mem, name, "old")
		memFile(t, mem, tmp, "stale")
		if replaced, err := vfs.ReplaceFile(mem, name, tmp, writeString("new")); err != nil || !replaced {
			t.Fatalf("replaced %v, %v", replaced, err)
		}
		crashed := mem.CrashClone()
		if got := string(testutil.ReadFile(t, crashed, name)); got != "new" || crashed.Exists(tmp) {
			t.Fatalf("after a crash %s holds %q, %s exists %v; want %q and no temporary", name, got, tmp, crashed.Exists(tmp), "new")
		}
	})
}

// TestReplaceFileUnlinksTempLink: a symbolic link left under the
// temporary name is removed, not followed: its target keeps its bytes.
func TestReplaceFileUnlinksTempLink(t *testing.T) {
	dir := t.TempDir()
	name, tmp, victim := filepath.Join(dir, "f"), filepath.Join(dir, "f.tmp"), filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, tmp); err != nil {
		testutil.Missing(t, "symlink: %v", err)
	}
	if _, err := vfs.ReplaceFile(vfs.Default, name, tmp, writeString("new")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(victim); err != nil || string(got) != "someone else's" {
		t.Fatalf("the link's target holds %q, %v: written through the link", got, err)
	}
	if got, err := os.ReadFile(name); err != nil || string(got) != "new" {
		t.Fatalf("%s holds %q, %v", name, got, err)
	}
}

// TestReplaceFileRefusesTempNamingName: a temporary name that is the
// file's own name (spelt the same or not) is refused with an error
// wrapping os.ErrInvalid that names both, and the file keeps its bytes,
// even when the write fails. Before, ReplaceFile removed the file as a
// stale temporary first, and a failed write then left nothing under the
// name.
func TestReplaceFileRefusesTempNamingName(t *testing.T) {
	boom := errors.New("injected")
	for _, tmp := range []string{"/d/f", "/d/./f", "/d//f"} {
		mem := vfs.NewMem()
		if err := vfs.MkdirAllAndSync(mem, "/d"); err != nil {
			t.Fatal(err)
		}
		memFile(t, mem, "/d/f", "old")
		replaced, err := vfs.ReplaceFile(mem, "/d/f", tmp, func(vfs.File) error { return boom })
		if replaced || !errors.Is(err, os.ErrInvalid) || !strings.Contains(err.Error(), tmp) {
			t.Errorf("tmp %q: replaced %v, %v; want an error wrapping os.ErrInvalid naming it", tmp, replaced, err)
		}
		if !mem.Exists("/d/f") {
			t.Fatalf("tmp %q: /d/f removed", tmp)
		}
		if got := string(testutil.ReadFile(t, mem, "/d/f")); got != "old" {
			t.Errorf("tmp %q: /d/f holds %q, want %q", tmp, got, "old")
		}
	}
}

// TestReplaceFileCrashAtEachStep: a power failure before each step of
// ReplaceFile (every call it makes on the filesystem), and after it
// returns, leaves the name holding its old bytes or the new ones, whole,
// whether the unsynced entry changes are lost or kept; once it has
// returned without an error, the new ones.
func TestReplaceFileCrashAtEachStep(t *testing.T) {
	const name, tmp = "/d/f", "/d/f.tmp"
	mem := vfs.NewMem()
	if err := vfs.MkdirAllAndSync(mem, "/d"); err != nil {
		t.Fatal(err)
	}
	memFile(t, mem, name, "old")
	memFile(t, mem, tmp, "stale")
	if err := mem.SyncDir("/d"); err != nil {
		t.Fatal(err)
	}
	check := func(when string, want ...string) {
		t.Helper()
		for _, mode := range []vfs.EntryMode{vfs.DropUnsyncedEntries, vfs.KeepUnsyncedEntries} {
			crashed := mem.CrashCloneWith(vfs.CrashOptions{Entries: mode})
			got := string(testutil.ReadFile(t, crashed, name))
			if !slices.Contains(want, got) {
				t.Errorf("crash %s (entries mode %d): %s holds %q, want one of %q", when, mode, name, got, want)
			}
		}
	}
	steps := 0
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		steps++
		check("before "+op.String(), "old", "new")
		return nil
	}))
	if _, err := vfs.ReplaceFile(fs, name, tmp, writeString("new")); err != nil {
		t.Fatal(err)
	}
	if steps < 6 {
		t.Fatalf("%d steps seen; want at least remove, create, write, fsync, close, rename, fsync directory", steps)
	}
	check("after it returned", "new")
}
