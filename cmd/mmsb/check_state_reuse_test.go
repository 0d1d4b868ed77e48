package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// readCountingFS counts the bytes read from one file.
type readCountingFS struct {
	vfs.FS
	name string
	read *atomic.Int64
}

func (c *readCountingFS) Unwrap() vfs.FS { return c.FS }

func (c *readCountingFS) Open(name string) (vfs.File, error) {
	f, err := c.FS.Open(name)
	if err != nil || name != c.name {
		return f, err
	}
	return &readCountingFile{File: f, read: c.read}, nil
}

type readCountingFile struct {
	vfs.File
	read *atomic.Int64
}

func (f *readCountingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.read.Add(int64(n))
	return n, err
}

func (f *readCountingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.read.Add(int64(n))
	return n, err
}

// TestCheckRebuildsTheRecoveredStateOnce: the graph and invariants
// validators of `mmsb check` read the state its recovery replay already
// rebuilt (newest checkpoint plus the log) instead of each rebuilding it
// from the files again: on a 1M-page directory every rebuild reads the
// whole 889 MB checkpoint and holds 1 GiB of pages, and check rebuilt the
// whole state five times (202 s there; 93 s with three). The newest
// checkpoint is read in full four times: verified, loaded alone by the
// loader check, loaded by the recovery replay, and compared with the log
// by the integrity validator (the whole-history replay starts from LSN 1
// here and reads none of it). The control, graph and invariants offline,
// read it six times. The verdict is the same.
func TestCheckRebuildsTheRecoveredStateOnce(t *testing.T) {
	tb := newTestBus(t)
	ckpts, err := checkpoint.List(vfs.Default, filepath.Join(tb.dir, "checkpoints"))
	if err != nil || len(ckpts) != 1 {
		t.Fatalf("want one checkpoint in the test bus, got %v (%v)", ckpts, err)
	}
	st, err := os.Stat(ckpts[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	saved := checkFS
	checkFS = &readCountingFS{FS: vfs.Default, name: ckpts[0].Path, read: &read}
	defer func() { checkFS = saved }()

	r := runCLI(t, "check", "--no-progress", tb.dir).mustCode(t, exitOK)
	if !strings.Contains(r.stdout, "OK: ") {
		t.Fatalf("check did not pass:\n%s", r.stdout)
	}
	if loads := read.Load() / st.Size(); loads != 4 {
		t.Errorf("check read the newest checkpoint (%d bytes) %d times over (%d bytes), want 4 (verify, loader check, recovery replay, integrity): graph and invariants must reuse the recovered state",
			st.Size(), loads, read.Load())
	}
}
