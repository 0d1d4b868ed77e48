package vfs_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

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
	// EXDEV, as rename(2) across two filesystems: testable with errors.Is.
	if !errors.Is(err, syscall.EXDEV) || !strings.Contains(err.Error(), "across the mount") {
		t.Fatalf("rename across the mount: %v, want EXDEV", err)
	}
	if !mem.Exists("/bus/log") {
		t.Fatal("a refused rename lost the file")
	}
}

// TestScratchFilesHaveNoWritebackControl checks that scratch files do not
// offer the writeback, size-hint and direct-write interfaces through which
// a checkpoint writer would push them to the device.
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
	if _, ok := f.(vfs.DirectWriter); ok {
		t.Error("scratch file is a DirectWriter")
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

// truncFS records the sizes files are truncated to.
type truncFS struct {
	vfs.FS
	sizes []int64
}

type truncFile struct {
	vfs.File
	fs *truncFS
}

func (t *truncFS) OpenAppend(name string) (vfs.File, error) {
	f, err := t.FS.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return truncFile{f, t}, nil
}

func (f truncFile) Truncate(size int64) error {
	f.fs.sizes = append(f.fs.sizes, size)
	return f.File.Truncate(size)
}

// TestRemoveGradually checks that a large file is shrunk step by step
// before it is removed, and that a file of at most one step (the control)
// is removed at once.
func TestRemoveGradually(t *testing.T) {
	for _, tc := range []struct {
		size int64
		want []int64
	}{
		{5*100 + 3, []int64{403, 303, 203, 103, 3}},
		{100, nil},
	} {
		mem := vfs.NewMem()
		fs := &truncFS{FS: mem}
		ck(t, mem.MkdirAll("/d"))
		f, err := mem.Create("/d/f")
		ck(t, err)
		_, err = f.Write(make([]byte, tc.size))
		ck(t, err)
		ck(t, f.Close())
		ck(t, vfs.RemoveGradually(fs, "/d/f", "/d/f.del", 100, 0))
		if mem.Exists("/d/f") || mem.Exists("/d/f.del") {
			t.Fatalf("size %d: file not removed", tc.size)
		}
		if fmt.Sprint(fs.sizes) != fmt.Sprint(tc.want) {
			t.Fatalf("size %d: truncated to %v, want %v", tc.size, fs.sizes, tc.want)
		}
	}
}

// TestRemoveGraduallyRefusesBadStep: a step of zero or less is refused
// with os.ErrInvalid, naming the step, and leaves the file where it was.
// Before, a zero step looped forever and a negative one grew the file
// without end (17 MB in two seconds on MemFS).
func TestRemoveGraduallyRefusesBadStep(t *testing.T) {
	for _, step := range []int64{0, -1, math.MinInt64} {
		mem := vfs.NewMem()
		ck(t, mem.MkdirAll("/d"))
		writeFile(t, mem, "/d/f", "0123456789")
		done := make(chan error, 1)
		go func() { done <- vfs.RemoveGradually(mem, "/d/f", "/d/f.del", step, 0) }()
		var err error
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("step %d: still running after 5 s (file now %d bytes)", step, mem.Usage())
		}
		if !errors.Is(err, os.ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("step of %d bytes", step)) {
			t.Fatalf("step %d: %v, want os.ErrInvalid naming the step", step, err)
		}
		if got := readFile(t, mem, "/d/f"); got != "0123456789" || mem.Exists("/d/f.del") {
			t.Fatalf("step %d: file changed or renamed: %q", step, got)
		}
	}
}

// TestMountAtRootOrDot mounts at "/" and at ".": every path below the
// mount's directory must come from the mounted filesystem, and a path
// outside it from the base. Before, route looked for the prefix "//" or
// "./", which no clean path has, so such a mount served only its
// directory itself from sub and every file in it from base.
func TestMountAtRootOrDot(t *testing.T) {
	cases := []struct {
		dir      string
		inside   []string // created through the mount; must land in sub
		subNames []string // where they land in sub (under /s)
		outside  []string // must land in base
	}{
		{"/", []string{"/a", "/d/b"}, []string{"/s/a", "/s/d/b"}, nil},
		{".", []string{"a", "d/b", "./c"}, []string{"/s/a", "/s/d/b", "/s/c"}, []string{"/abs"}},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			base, sub := vfs.NewMem(), vfs.NewMem()
			ck(t, sub.MkdirAll("/s/d"))
			ck(t, base.MkdirAll("/d"))
			fs := vfs.Mount(base, c.dir, sub, "/s")
			for _, name := range append(slices.Clone(c.inside), c.outside...) {
				f, err := fs.Create(name)
				ck(t, err)
				ck(t, f.Close())
			}
			for i, name := range c.inside {
				if !sub.Exists(c.subNames[i]) || base.Exists(name) {
					t.Errorf("%s: in sub at %s %v, in base %v; want sub only", name, c.subNames[i], sub.Exists(c.subNames[i]), base.Exists(name))
				}
			}
			for _, name := range c.outside {
				if !base.Exists(name) {
					t.Errorf("%s: not in base", name)
				}
			}
		})
	}
}
