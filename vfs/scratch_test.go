package vfs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestMountRoutes checks that a Mount serves paths under its directory
// from the mounted filesystem (files appear in the OS directory) and the
// rest from the base, and refuses a rename across the two.
func TestMountRoutes(t *testing.T) {
	mem := vfs.NewMem()
	ck(t, mem.MkdirAll("/bus"))
	sub := vfs.Scratch(t.TempDir())
	fs := vfs.Mount(mem, "/bus/checkpoints", sub, "/")
	ck(t, fs.MkdirAll("/bus/checkpoints"))
	for _, name := range []string{"/bus/checkpoints/a", "/bus/log"} {
		f, err := fs.Create(name)
		ck(t, err)
		_, err = f.Write([]byte(name))
		ck(t, err)
		ck(t, f.Close())
	}
	if !sub.Exists("/a") || sub.Exists("/log") {
		t.Fatal("the mounted filesystem holds the wrong files")
	}
	if !mem.Exists("/bus/log") || mem.Exists("/bus/checkpoints/a") {
		t.Fatal("a base path went to the mount or a mounted path to the base")
	}
	// A directory merely sharing the prefix is not under the mount.
	ck(t, fs.MkdirAll("/bus/checkpoints2"))
	if !mem.Exists("/bus/checkpoints2") {
		t.Fatal("/bus/checkpoints2 was routed to the mount")
	}
	err := fs.Rename("/bus/log", "/bus/checkpoints/log")
	if err == nil || !strings.Contains(err.Error(), "across the mount") {
		t.Fatalf("rename across the mount: %v", err)
	}
	if !mem.Exists("/bus/log") {
		t.Fatal("a refused rename lost the file")
	}
}

// TestScratchFilesHaveNoWritebackControl checks that scratch files do not
// offer the writeback and size-hint interfaces through which a checkpoint
// writer would push them to the device.
func TestScratchFilesHaveNoWritebackControl(t *testing.T) {
	tmp := t.TempDir()
	f, err := vfs.Scratch(tmp).Create("/f")
	ck(t, err)
	defer f.Close()
	if _, ok := f.(vfs.RangeSyncer); ok {
		t.Error("scratch file is a RangeSyncer")
	}
	if _, ok := f.(vfs.RangeWaiter); ok {
		t.Error("scratch file is a RangeWaiter")
	}
	if _, ok := f.(vfs.SizeHinter); ok {
		t.Error("scratch file is a SizeHinter")
	}
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	// Its bytes are in an unnamed file: nothing appears in the directory.
	if names, err := os.ReadDir(tmp); err != nil || len(names) != 0 {
		t.Fatalf("scratch directory holds %d named files (%v)", len(names), err)
	}
	// The negative control: the OS filesystem's files do offer them.
	g, err := vfs.Default.Create(filepath.Join(t.TempDir(), "g"))
	ck(t, err)
	defer g.Close()
	if _, ok := g.(vfs.RangeWaiter); !ok {
		t.Error("OS file is not a RangeWaiter: this test checks nothing")
	}
}
