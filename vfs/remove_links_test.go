package vfs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestRemoveGraduallyUnlinksLinkNotTarget: a symbolic link under the name
// (an archived log segment or checkpoint linked into the directory) is
// unlinked, and the file it points to is left whole, through Default, an
// errorfs wrapper and a Mount. Before, the open for the shrinking steps
// followed the link: the target was cut to at most one step (100 of 1000
// bytes here; in a bus with 4 MiB log segments, an archived segment linked
// into the log directory went from 4,202,721 bytes to 8,417 when pruned)
// and only the link removed.
// checkpoint.Remove checked for a link itself, but only on Default: a
// bus given a wrapped or mounted filesystem cut its checkpoints' targets
// too.
func TestRemoveGraduallyUnlinksLinkNotTarget(t *testing.T) {
	dir := t.TempDir()
	noFaults := errorfs.InjectorFunc(func(errorfs.Op) error { return nil })
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string // where the link is, on fs
	}{
		{"default", vfs.Default, dir},
		{"errorfs", errorfs.Wrap(vfs.Default, noFaults), dir},
		{"mount", vfs.Mount(vfs.NewMem(), "/data", vfs.Default, dir), "/data"},
	} {
		target := filepath.Join(dir, "archive-"+tc.name)
		want := strings.Repeat("x", 1000)
		if err := os.WriteFile(target, []byte(want), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, "seg-"+tc.name)); err != nil {
			testutil.Missing(t, "symlink: %v", err)
		}
		name := tc.fs.Join(tc.dir, "seg-"+tc.name)
		if err := vfs.RemoveGradually(tc.fs, name, name+".del", 100, 0); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got, err := os.ReadFile(target); err != nil || string(got) != want {
			t.Errorf("%s: the link's target is %d bytes (%v), want its 1000 bytes untouched", tc.name, len(got), err)
		}
		for _, n := range []string{name, name + ".del"} {
			if _, err := os.Lstat(filepath.Join(dir, filepath.Base(n))); !os.IsNotExist(err) {
				t.Errorf("%s: %s is still there (%v)", tc.name, n, err)
			}
		}
	}

}

// TestRemoveGraduallyDirectory: on every implementation, an empty
// directory under the name is removed (on the OS without being renamed,
// in MemFS under the hidden name, where it cannot be opened to shrink); a
// directory that holds files is refused and left under its name with its
// files, as the OS leaves it; a missing name is an error IsNotExist
// recognises that creates nothing; and a file of several steps is
// removed with nothing left under either name. Before, MemFS and the
// filesystems built on it left either directory under the hidden name
// with an "is a directory" error.
func TestRemoveGraduallyDirectory(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			fs, dir := im.new(t)
			empty := fs.Join(dir, "empty")
			ck(t, fs.MkdirAll(empty))
			if err := vfs.RemoveGradually(fs, empty, empty+".del", 100, 0); err != nil {
				t.Fatalf("empty directory: %v", err)
			}
			if fs.Exists(empty) || fs.Exists(empty+".del") {
				t.Fatal("empty directory not removed")
			}
			full := fs.Join(dir, "full")
			ck(t, fs.MkdirAll(full))
			writeFile(t, fs, fs.Join(full, "f"), "kept")
			if err := vfs.RemoveGradually(fs, full, full+".del", 100, 0); err == nil {
				t.Fatal("a directory holding a file was removed")
			}
			if fs.Exists(full + ".del") {
				t.Fatal("the refused directory was left under the hidden name")
			}
			if got := readFile(t, fs, fs.Join(full, "f")); got != "kept" {
				t.Fatalf("the directory's file holds %q", got)
			}
			missing := fs.Join(dir, "missing")
			if err := vfs.RemoveGradually(fs, missing, missing+".del", 100, 0); !vfs.IsNotExist(err) {
				t.Fatalf("missing name: %v, want an error IsNotExist recognises", err)
			}
			if fs.Exists(missing) || fs.Exists(missing+".del") {
				t.Fatal("removing a missing name created one")
			}
			file := fs.Join(dir, "file")
			writeFile(t, fs, file, strings.Repeat("y", 350))
			if err := vfs.RemoveGradually(fs, file, file+".del", 100, 0); err != nil {
				t.Fatalf("file: %v", err)
			}
			if fs.Exists(file) || fs.Exists(file+".del") {
				t.Fatal("file not removed")
			}
		})
	}
}
