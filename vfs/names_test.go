package vfs_test

import (
	"errors"
	"math"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestMemNamesMatchOS runs each odd name or edge case on the OS (in a
// fresh directory holding a file a, an empty directory d and a directory
// e holding f) and on MemFS (the same tree at /r), and requires the
// outcome the OS gives (Linux), on both: each case's comment says what
// MemFS did before it resolved names as Linux does.
func TestMemNamesMatchOS(t *testing.T) {
	cases := []struct {
		name string
		run  func(fs vfs.FS, r string) error
		want string // errClass of the OS's outcome
		tree string // a change to the tree both must show, "" for none
	}{
		// Before: created a file "a" (MemFS cleaned the slash away).
		{"create-trailing-slash", func(fs vfs.FS, r string) error { _, err := fs.Create(r + "/x/"); return err }, "error", ""},
		// Before: opened the file a.
		{"open-file-with-slash", func(fs vfs.FS, r string) error { _, err := fs.Open(r + "/a/"); return err }, "error", ""},
		// Before: opened a (x/.. was cleaned away, though x is missing).
		{"open-through-missing-dir", func(fs vfs.FS, r string) error { _, err := fs.Open(r + "/x/../a"); return err }, "not-exist", ""},
		// Before: opened a through the file a.
		{"open-through-file", func(fs vfs.FS, r string) error { _, err := fs.OpenAppend(r + "/a/../a"); return err }, "error", ""},
		// Before: Exists("a/") was true for the file a.
		{"exists-file-with-slash", func(fs vfs.FS, r string) error { return existsErr(fs, r+"/a/") }, "not-exist", ""},
		// Before: created a file whose name holds a NUL byte.
		{"create-nul", func(fs vfs.FS, r string) error { _, err := fs.Create(r + "/a\x00b"); return err }, "error", ""},
		// Before: created a file with a 300-byte name.
		{"create-long-name", func(fs vfs.FS, r string) error { _, err := fs.Create(r + "/" + strings.Repeat("n", 300)); return err }, "error", ""},
		// Before: removed the file a.
		{"remove-file-with-slash", func(fs vfs.FS, r string) error { return fs.Remove(r + "/a/") }, "error", ""},
		// Before: removed the directory d.
		{"remove-dot", func(fs vfs.FS, r string) error { return fs.Remove(r + "/d/.") }, "error", ""},
		// Before: renamed d over the empty directory e2 (os.Rename refuses).
		{"rename-onto-empty-dir", func(fs vfs.FS, r string) error {
			if err := fs.MkdirAll(r + "/e2"); err != nil {
				return err
			}
			return fs.Rename(r+"/d", r+"/e2")
		}, "error", "e2"},
		// Before: succeeded (os.Rename refuses a directory onto its own name).
		{"rename-dir-to-itself", func(fs vfs.FS, r string) error { return fs.Rename(r+"/d", r+"/d") }, "error", ""},
		// Before: renamed the file a to x.
		{"rename-file-to-slash", func(fs vfs.FS, r string) error { return fs.Rename(r+"/a", r+"/x/") }, "error", ""},
		// Before: renamed d (a dot name) away.
		{"rename-dot", func(fs vfs.FS, r string) error { return fs.Rename(r+"/d/.", r+"/z") }, "error", ""},
		// Order of checks (the missing directory of the new name is found
		// before the dot of the old one): an early version of the fix gave
		// a general error; the fuzz target found it.
		{"rename-dot-to-missing-dir", func(fs vfs.FS, r string) error { return fs.Rename(r+"/.", r+"/x/b") }, "not-exist", ""},
		// Unchanged (EINVAL): a move into its own subtree, found through "..".
		{"rename-into-subtree", func(fs vfs.FS, r string) error { return fs.Rename(r+"/e", r+"/d/../e/g") }, "error", ""},
		// Before: x was not made (os.MkdirAll makes it, then finds x/..).
		{"mkdirall-dotdot", func(fs vfs.FS, r string) error { return fs.MkdirAll(r + "/x/..") }, "ok", "x"},
		// Before: listed the root.
		{"list-empty-name", func(fs vfs.FS, r string) error { _, err := fs.List(""); return err }, "not-exist", ""},
		// Before: the error for the root, not not-exist.
		{"create-empty-name", func(fs vfs.FS, r string) error { _, err := fs.Create(""); return err }, "not-exist", ""},
		// Before: an error from MemFS; os.File.ReadAt of nothing checks nothing.
		{"readat-empty-closed", func(fs vfs.FS, r string) error {
			f, err := fs.Open(r + "/a")
			if err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			_, err = f.ReadAt(nil, 0)
			return err
		}, "ok", ""},
		// Before: panicked in makeslice (MemFS); EFBIG on the OS.
		{"truncate-huge", func(fs vfs.FS, r string) error {
			f, err := fs.OpenAppend(r + "/a")
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(math.MaxInt64)
		}, "error", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sides := osAndMem(t, asIs)
			for _, s := range sides {
				f, err := s.fs.Create(s.root + "/a")
				ck(t, err)
				_, err = f.Write([]byte("A"))
				ck(t, err)
				ck(t, f.Close())
				ck(t, s.fs.MkdirAll(s.root+"/d"))
				ck(t, s.fs.MkdirAll(s.root+"/e"))
				writeFile(t, s.fs, s.root+"/e/f", "F")
			}
			want := map[string]string{"a": "A", "d": "<dir>", "e": "<dir>", "e/f": "F"}
			if c.tree != "" {
				want[c.tree] = "<dir>"
			}
			for i, s := range sides {
				err := c.run(s.fs, s.root)
				if got := errClass(err); got != c.want {
					t.Errorf("%s: %v (%s), want %s", []string{"os", "mem"}[i], err, got, c.want)
				}
				tree, err := fuzzTree(s.fs, s.root)
				ck(t, err)
				if !mapsEqual(tree, want) {
					t.Errorf("%s: tree %s, want %s", []string{"os", "mem"}[i], treeString(tree), treeString(want))
				}
			}
		})
	}
}

// existsErr turns Exists into an error for the table above.
func existsErr(fs vfs.FS, name string) error {
	if fs.Exists(name) {
		return nil
	}
	return os.ErrNotExist
}

// TestMemTruncateTooLarge checks the size limit's error: EFBIG, naming
// the file. Before: Truncate(math.MaxInt64) panicked in makeslice.
func TestMemTruncateTooLarge(t *testing.T) {
	fs := vfs.NewMem()
	f, err := fs.Create("f")
	ck(t, err)
	for _, size := range []int64{1<<36 + 1, math.MaxInt64} {
		err := f.Truncate(size)
		if !errors.Is(err, syscall.EFBIG) || !strings.Contains(err.Error(), "f") {
			t.Fatalf("Truncate(%d) = %v, want EFBIG naming f", size, err)
		}
	}
	if sz, _ := f.Size(); sz != 0 {
		t.Fatalf("size %d after refused truncations", sz)
	}
}
