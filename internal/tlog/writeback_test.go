package tlog

import (
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// writebackFS hands out segment files that record the writeback the log
// asks for, per file, next to what was written to them.
type writebackFS struct {
	vfs.FS
	mu    sync.Mutex
	files []*writebackFile
}

func (w *writebackFS) Create(name string) (vfs.File, error) {
	f, err := w.FS.Create(name)
	if err != nil {
		return nil, err
	}
	wf := &writebackFile{File: f}
	w.mu.Lock()
	w.files = append(w.files, wf)
	w.mu.Unlock()
	return wf, nil
}

type writebackFile struct {
	vfs.File
	mu      sync.Mutex
	written int64
	started [][2]int64
}

func (f *writebackFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.mu.Lock()
	f.written += int64(n)
	f.mu.Unlock()
	return n, err
}

func (f *writebackFile) StartWriteback(off, n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, [2]int64{off, n})
	return nil
}

// TestSyncNoneStartsWriteback: under SyncNone the log asks the OS to start
// writing each segment back every logWritebackBytes, contiguously from the
// header on and only over bytes already written, so that a rotation's
// fsync finds little left (it wrote the whole segment: a 35 ms stall of
// every commit under SyncNone, docs/benchmarks.md). The control: SyncGroup,
// whose group fsyncs write the segment back, asks for none.
func TestSyncNoneStartsWriteback(t *testing.T) {
	for _, mode := range []SyncMode{SyncNone, SyncGroup} {
		fs := &writebackFS{FS: vfs.NewMem()}
		l := openLog(t, Options{FS: fs, Dir: "/wal", Sync: mode, SegmentBytes: 5 * logWritebackBytes})
		payload := make([]byte, 64<<10)
		var lsn uint64 = 1
		for range 12 * logWritebackBytes / len(payload) {
			if _, err := l.Append(base.LSN(lsn), 1, payload); err != nil {
				t.Fatal(err)
			}
			lsn++
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		total := 0
		for i, f := range fs.files {
			next := int64(SegmentHeaderSize)
			for k, s := range f.started {
				if s[0] != next || s[1] < logWritebackBytes || s[0]+s[1] > f.written {
					t.Fatalf("%v, segment %d, writeback %d covers [%d, +%d): want it from %d, at least %d bytes, within the %d written",
						mode, i, k, s[0], s[1], next, logWritebackBytes, f.written)
				}
				next = s[0] + s[1]
			}
			total += len(f.started)
		}
		switch {
		case mode == SyncNone && (len(fs.files) < 2 || total < 8):
			t.Fatalf("SyncNone: %d writebacks over %d segments of 96 MiB written; want about 11 over at least 2", total, len(fs.files))
		case mode == SyncGroup && total != 0:
			t.Fatalf("SyncGroup: %d writebacks started; its group fsyncs write back", total)
		}
	}
}
