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
