package vfs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestUnshare: a file with another hard link is copied to a file of its
// own under its name, and the other name keeps the old file, so that a
// truncation through the name leaves the other whole; through Default, an
// errorfs wrapper and a Mount. A file with one link is left as it is (the
// same inode), and so is every file of MemFS, which has no hard links.
func TestUnshare(t *testing.T) {
	dir := t.TempDir()
	noFaults := errorfs.InjectorFunc(func(errorfs.Op) error { return nil })
	want := strings.Repeat("y", 3000)
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string // the directory on fs
	}{
		{"default", vfs.Default, dir},
		{"errorfs", errorfs.Wrap(vfs.Default, noFaults), dir},
		{"mount", vfs.Mount(vfs.NewMem(), "/data", vfs.Default, dir), "/data"},
	} {
		seg := filepath.Join(dir, "seg-"+tc.name)
		backup := filepath.Join(dir, "backup-"+tc.name)
		if err := os.WriteFile(seg, []byte(want), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(seg, 0o640); err != nil { // granted to a reader group
			t.Fatal(err)
		}
		name := tc.fs.Join(tc.dir, "seg-"+tc.name)
		// One link: nothing to do.
		before, err := os.Stat(seg)
		if err != nil {
			t.Fatal(err)
		}
		if copied, err := vfs.Unshare(tc.fs, name, name+".tmp"); err != nil || copied {
			t.Fatalf("%s, one link: copied %v, %v; want nothing done", tc.name, copied, err)
		}
		if after, err := os.Stat(seg); err != nil || !os.SameFile(before, after) {
			t.Fatalf("%s, one link: the file was replaced (%v)", tc.name, err)
		}
		if err := os.Link(seg, backup); err != nil {
			testutil.Missing(t, "hard link: %v", err)
		}
		if copied, err := vfs.Unshare(tc.fs, name, name+".tmp"); err != nil || !copied {
			t.Fatalf("%s: copied %v, %v; want a copy", tc.name, copied, err)
		}
		if err := os.Truncate(seg, 10); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(backup); err != nil || string(got) != want {
			t.Errorf("%s: the other link is %d bytes (%v), want its 3000 untouched", tc.name, len(got), err)
		}
		if got, err := os.ReadFile(seg); err != nil || string(got) != want[:10] {
			t.Errorf("%s: the name holds %q (%v)", tc.name, got, err)
		}
		if st, err := os.Stat(seg); err != nil {
			t.Error(err)
		} else if st.Mode().Perm() != 0o640 {
			t.Errorf("%s: the copy's mode is %v, want the file's 0640", tc.name, st.Mode().Perm())
		}
		if _, err := os.Lstat(seg + ".tmp"); !os.IsNotExist(err) {
			t.Errorf("%s: the temporary name is left (%v)", tc.name, err)
		}
	}
	mem := vfs.NewMem()
	ck(t, mem.MkdirAll("/d"))
	writeFile(t, mem, "/d/f", want)
	if copied, err := vfs.Unshare(mem, "/d/f", "/d/f.tmp"); err != nil || copied {
		t.Fatalf("MemFS: copied %v, %v; want nothing done", copied, err)
	}
	if mem.Exists("/d/f.tmp") {
		t.Fatal("MemFS: the temporary name was created")
	}
}

// TestUnshareSymlink: a symbolic link at the name (an archived file linked
// back in) is replaced by a copy of its own, and the file it points to,
// with one hard link, is left untouched by a truncation through the name.
// Before, the link was followed, its target's single link seen, and
// nothing copied: the truncation cut the target.
func TestUnshareSymlink(t *testing.T) {
	dir := t.TempDir()
	want := strings.Repeat("s", 3000)
	target := filepath.Join(t.TempDir(), "archive")
	if err := os.WriteFile(target, []byte(want), 0o600); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "seg")
	if err := os.Symlink(target, name); err != nil {
		testutil.Missing(t, "symbolic link: %v", err)
	}
	if copied, err := vfs.Unshare(vfs.Default, name, name+".tmp"); err != nil || !copied {
		t.Fatalf("copied %v, %v; want a copy", copied, err)
	}
	if st, err := os.Lstat(name); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("the name does not hold a regular file (%v)", err)
	}
	if err := os.Truncate(name, 10); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(target); err != nil || string(got) != want {
		t.Errorf("the link's target is %d bytes (%v), want its 3000 untouched", len(got), err)
	}
}

// TestUnshareFailureKeepsFile: a copy larger than io.Copy's buffer keeps
// every byte; and a copy that fails (the disk full mid-copy, a failed
// fsync or rename) leaves the name holding the shared file, whole, and
// nothing under the temporary name, with an error that names the file,
// says why it was being copied and wraps the cause. Before, the error did
// not say why: an operator whose disk was full saw Open fail writing a
// copy of a log segment, with no hint of the hard link behind it.
func TestUnshareFailureKeepsFile(t *testing.T) {
	want := make([]byte, 200<<10)
	for i := range want {
		want[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name string
		fail func(op errorfs.Op) bool // on the temporary file
	}{
		{"none", func(errorfs.Op) bool { return false }},
		{"write", func(op errorfs.Op) bool { return op.Kind == errorfs.OpWrite && op.Offset >= 64<<10 }},
		{"sync", func(op errorfs.Op) bool { return op.Kind == errorfs.OpSync }},
		{"rename", func(op errorfs.Op) bool { return op.Kind == errorfs.OpRename }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			name, backup := filepath.Join(dir, "seg"), filepath.Join(dir, "backup")
			tmp := name + ".tmp"
			if err := os.WriteFile(name, want, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(name, backup); err != nil {
				testutil.Missing(t, "hard link: %v", err)
			}
			fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Path == tmp && tc.fail(op) {
					return syscall.ENOSPC
				}
				return nil
			}))
			copied, err := vfs.Unshare(fs, name, tmp)
			if _, lerr := os.Lstat(tmp); !os.IsNotExist(lerr) {
				t.Errorf("the temporary name is left (%v)", lerr)
			}
			got, rerr := os.ReadFile(name)
			if rerr != nil || !bytes.Equal(got, want) {
				t.Errorf("the name holds %d bytes (%v), want its %d whole", len(got), rerr, len(want))
			}
			nst, _ := os.Stat(name)
			bst, _ := os.Stat(backup)
			if tc.name == "none" {
				if err != nil || !copied || os.SameFile(nst, bst) {
					t.Fatalf("copied %v, %v; want a copy of its own", copied, err)
				}
				return
			}
			if err == nil || copied || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "other hard links") {
				t.Fatalf("copied %v, error %v; want an error naming %s, saying why it is copied and wrapping ENOSPC", copied, err, name)
			}
			if !os.SameFile(nst, bst) {
				t.Errorf("the name no longer holds the shared file")
			}
		})
	}
}
