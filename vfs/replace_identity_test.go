package vfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestReplaceFileRefusesTempThroughLinkedDir: on the operating system's
// filesystem a tmp that reaches name's own entry through another spelling
// of its directory (a symbolic link to it, a relative path) is refused
// with os.ErrInvalid and name keeps its file. Before, only
// filepath.Clean's spelling was compared: the first step removed name
// itself, and a failed write left nothing under it. A tmp that is another
// hard link to name's file is not refused: removing it leaves name.
func TestReplaceFileRefusesTempThroughLinkedDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "f")
	put := func() {
		t.Helper()
		if err := os.WriteFile(name, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(root, "l")
	if err := os.Symlink(dir, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, name)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("injected")
	for _, tmp := range []string{filepath.Join(link, "f"), filepath.Join(link, "..", "d", "f"), rel} {
		put()
		replaced, err := vfs.ReplaceFile(vfs.Default, name, tmp, func(vfs.File) error { return boom })
		if replaced || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("tmp %s: replaced %v, %v; want an error wrapping os.ErrInvalid", tmp, replaced, err)
		}
		if got, err := os.ReadFile(name); err != nil || string(got) != "old" {
			t.Errorf("tmp %s: %s holds %q, %v; want %q", tmp, name, got, err, "old")
		}
	}
	// Another hard link to the file: replaced, the link removed first.
	put()
	hard := filepath.Join(dir, "h")
	if err := os.Link(name, hard); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	replaced, err := vfs.ReplaceFile(vfs.Default, name, hard, func(f vfs.File) error {
		_, err := f.Write([]byte("new"))
		return err
	})
	if !replaced || err != nil {
		t.Fatalf("tmp a hard link to %s: replaced %v, %v; want it replaced", name, replaced, err)
	}
	if got, err := os.ReadFile(name); err != nil || string(got) != "new" {
		t.Errorf("%s holds %q, %v after the replace; want %q", name, got, err, "new")
	}
	if _, err := os.Lstat(hard); !os.IsNotExist(err) {
		t.Errorf("%s left after the replace: %v", hard, err)
	}
}
