package tlog

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// hintFS's segment files have a SizeHint that panics (a caller's own
// vfs.FS, as panicFS), and a Write that, once tear is set, writes half
// of what it is given and panics.
type hintFS struct {
	vfs.FS
	hinted chan struct{} // closed by the first SizeHint, as it panics
	once   *atomic.Bool
	tear   *atomic.Bool
}

type hintFile struct {
	vfs.File
	fs hintFS
}

func (fs hintFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return hintFile{f, fs}, nil
}

func (fs hintFS) OpenAppend(name string) (vfs.File, error) {
	f, err := fs.FS.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return hintFile{f, fs}, nil
}

func (f hintFile) SizeHint(int64) {
	if f.fs.once.CompareAndSwap(false, true) {
		defer close(f.fs.hinted)
	}
	panic("size hint driver bug")
}

func (f hintFile) Write(p []byte) (int, error) {
	if f.fs.tear.Load() {
		_, _ = f.File.Write(p[:len(p)/2])
		panic("torn write driver bug")
	}
	return f.File.Write(p)
}

// TestFilePanicInSizeHintAndTornWrite: a segment file whose SizeHint
// panics (called on a goroutine of its own when a segment is created) is
// a hint not taken: the log goes on. Before, the panic ended the process
// (a goroutine's panic no one recovers). A Write that wrote half of a
// group and then panicked fails the log (ErrFilePanicked) and leaves a
// torn tail that the next Open truncates: it replays exactly the records
// acknowledged before, which a new record then follows.
func TestFilePanicInSizeHintAndTornWrite(t *testing.T) {
	mem := vfs.NewMem()
	fs := hintFS{FS: mem, hinted: make(chan struct{}), once: &atomic.Bool{}, tear: &atomic.Bool{}}
	recs := genRecords(1, 4, 200)
	l := openLog(t, Options{FS: fs, Dir: "/wal", Sync: SyncAlways})
	appendAll(t, l, recs[:3]) // creates the segment: SizeHint runs
	within(t, "SizeHint", func() { <-fs.hinted })
	fs.tear.Store(true)
	_, err := l.Append(recs[3].First, recs[3].Count, recs[3].Payload)
	wantPanicked(t, "Append with a torn write", err)
	fs.tear.Store(false)
	within(t, "Close", func() { _ = l.Close() })

	var got []rec
	l2, _, err := Open(Options{FS: mem, Dir: "/wal", Sync: SyncAlways}, 0, func(r *Record) error {
		got = append(got, rec{First: r.FirstLSN, Count: r.Count, Payload: bytes.Clone(r.Payload)})
		return nil
	})
	if err != nil {
		t.Fatalf("Open after the torn write: %v", err)
	}
	defer l2.Close()
	if len(got) != 3 {
		t.Fatalf("reopened log replays %d records; want the 3 acknowledged", len(got))
	}
	for i, r := range got {
		if r.First != recs[i].First || r.Count != recs[i].Count || !bytes.Equal(r.Payload, recs[i].Payload) {
			t.Fatalf("record %d replayed as LSN %d+%d; want %d+%d and its payload", i, r.First, r.Count, recs[i].First, recs[i].Count)
		}
	}
	appendAll(t, l2, recs[3:])
}
