package vfs_test

import (
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestRemoveGraduallyHiddenIsDirectory: a directory holding files under
// the hidden name (an operator's, a restored backup tree: the callers'
// cleanup passes over it) does not stop the removal: the file is unlinked
// at once, and the directory and its files are left as they are, on MemFS
// and on the operating system's filesystem. Before, the rename to the
// hidden name failed ("file exists") on every try: a log segment whose
// .del name held a directory was never trimmed.
func TestRemoveGraduallyHiddenIsDirectory(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string
	}{
		{"memory", vfs.NewMem(), "/d"},
		{"os", vfs.Default, t.TempDir()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := tc.fs
			if err := fs.MkdirAll(tc.dir); err != nil {
				t.Fatal(err)
			}
			name := fs.Join(tc.dir, "seg.log")
			hidden := name + ".del"
			kept := fs.Join(hidden, "notes")
			if err := fs.MkdirAll(hidden); err != nil {
				t.Fatal(err)
			}
			for path, b := range map[string]string{name: "segment bytes", kept: "the operator's"} {
				f, err := fs.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write([]byte(b)); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if err := vfs.RemoveGradually(fs, name, hidden, 4, 0); err != nil {
				t.Fatalf("remove %s beside a directory at %s: %v", name, filepath.Base(hidden), err)
			}
			if fs.Exists(name) {
				t.Errorf("%s is still there", name)
			}
			if got := string(testutil.ReadFile(t, fs, kept)); got != "the operator's" {
				t.Errorf("the directory's file holds %q", got)
			}
		})
	}
}
