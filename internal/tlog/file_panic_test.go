package tlog

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/vfs"
)

// panicFS's files panic in the method named by in (Write, Sync or Close),
// and its Create when in is "Create", once it is set; release, when set, is waited for before a Write panics,
// so that a second goroutine can queue behind the flush in flight.
type panicFS struct {
	vfs.FS
	in      *atomic.Value // string
	release chan struct{}
}

type panicFile struct {
	vfs.File
	fs panicFS
}

func (fs panicFS) Create(name string) (vfs.File, error) {
	if s, _ := fs.in.Load().(string); s == "Create" {
		panic("create driver bug")
	}
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return panicFile{f, fs}, nil
}

func (fs panicFS) OpenAppend(name string) (vfs.File, error) {
	f, err := fs.FS.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return panicFile{f, fs}, nil
}

func (f panicFile) armed(method string) bool {
	s, _ := f.fs.in.Load().(string)
	return s == method
}

func (f panicFile) Write(p []byte) (int, error) {
	if f.armed("Write") {
		if f.fs.release != nil {
			<-f.fs.release
		}
		panic("disk driver bug")
	}
	return f.File.Write(p)
}

func (f panicFile) Sync() error {
	if f.armed("Sync") {
		panic(errors.New("sync driver bug"))
	}
	return f.File.Sync()
}

func (f panicFile) Close() error {
	if f.armed("Close") {
		panic("close driver bug")
	}
	return f.File.Close()
}

// within runs fn and fails the test if it has not returned after a
// generous deadline (a hung log).
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s still running after 20 s: the log's mutex was left locked", what)
	}
}

// wantPanicked fails unless err is the log's error for a file that panicked.
func wantPanicked(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrFilePanicked) || !strings.Contains(err.Error(), "driver bug") {
		t.Fatalf("%s = %v; want ErrFilePanicked naming the panic", what, err)
	}
}

// TestFilePanicFailsLog: a segment file whose Write or Sync panics fails
// the log (sticky, ErrFilePanicked naming the panic) as a returned error
// does, wherever the flush runs: in a Wait, in an Append (SyncAlways), in
// the background flusher (Kick). Every waiter is woken with the error, and
// the log stays usable to close. Before, the leader's panic skipped the
// relock that flushLocked does after its I/O, and the deferred Unlock of
// Wait or Append killed the process ("fatal error: sync: unlock of
// unlocked mutex"); a panic in the flusher goroutine ended it too.
func TestFilePanicFailsLog(t *testing.T) {
	recs := genRecords(1, 3, 40)
	for _, tc := range []struct {
		name   string
		mode   SyncMode
		method string
	}{
		{"waitWrite", SyncGroup, "Write"},
		{"waitSync", SyncGroup, "Sync"},
		{"appendAlways", SyncAlways, "Write"},
		{"appendNone", SyncNone, "Write"},
		{"flusher", SyncGroup, "Sync"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &atomic.Value{}
			fs := panicFS{FS: vfs.NewMem(), in: in}
			if tc.name == "waitWrite" {
				fs.release = make(chan struct{})
			}
			l := openLog(t, Options{FS: fs, Dir: "/wal", Sync: tc.mode})
			appendAll(t, l, recs[:1])
			in.Store(tc.method)
			var err error
			switch tc.mode {
			case SyncGroup:
				tk, aerr := l.Append(recs[1].First, recs[1].Count, recs[1].Payload)
				if aerr != nil {
					t.Fatal(aerr)
				}
				if tc.name == "flusher" {
					l.Kick()
					within(t, "the flusher", func() {
						for l.Err() == nil {
							time.Sleep(time.Millisecond)
						}
					})
					err = l.Err()
					break
				}
				// A second waiter, queued behind the leader's flush (or
				// arriving after it), is woken with the error too.
				second := make(chan error, 1)
				lead := make(chan error, 1)
				go func() { lead <- l.Wait(context.Background(), tk) }()
				if fs.release != nil {
					time.Sleep(20 * time.Millisecond) // let the leader reach its Write
				}
				go func() { second <- l.Wait(context.Background(), tk) }()
				if fs.release != nil {
					time.Sleep(20 * time.Millisecond)
					close(fs.release)
				}
				within(t, "Wait", func() { err = <-lead })
				var err2 error
				within(t, "the second Wait", func() { err2 = <-second })
				wantPanicked(t, "the second Wait", err2)
			default:
				within(t, "Append", func() {
					_, err = l.Append(recs[1].First, recs[1].Count, recs[1].Payload)
				})
			}
			wantPanicked(t, "the flush", err)
			// Sticky.
			within(t, "the calls after", func() {
				next := l.LastLSN() + 1
				if _, err := l.Append(next, 1, nil); !errors.Is(err, ErrFilePanicked) {
					t.Errorf("Append after the panic = %v; want the sticky error", err)
				}
				if err := l.Sync(); !errors.Is(err, ErrFilePanicked) {
					t.Errorf("Sync after the panic = %v; want the sticky error", err)
				}
				in.Store("")
				if err := l.Close(); !errors.Is(err, ErrFilePanicked) {
					t.Errorf("Close after the panic = %v; want the sticky error", err)
				}
			})
		})
	}
}

// TestFileClosePanicReleasesLog: a segment file whose Close panics, in
// the log's Close or in a rotation, is an error: the log's mutex is
// released and later calls answer. Before, Close's panic left it locked.
func TestFileClosePanicReleasesLog(t *testing.T) {
	recs := genRecords(1, 3, 40)
	t.Run("close", func(t *testing.T) {
		in := &atomic.Value{}
		l := openLog(t, Options{FS: panicFS{FS: vfs.NewMem(), in: in}, Dir: "/wal", Sync: SyncAlways})
		appendAll(t, l, recs[:1])
		in.Store("Close")
		var err error
		within(t, "Close", func() { err = l.Close() })
		wantPanicked(t, "Close", err)
		within(t, "LastLSN after Close", func() { _ = l.LastLSN() })
		if err := l.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("second Close = %v; want ErrClosed", err)
		}
	})
	t.Run("rotate", func(t *testing.T) {
		in := &atomic.Value{}
		l := openLog(t, Options{FS: panicFS{FS: vfs.NewMem(), in: in}, Dir: "/wal", Sync: SyncAlways, SegmentBytes: 1})
		appendAll(t, l, recs[:1])
		in.Store("Close")
		var err error
		within(t, "Append", func() { _, err = l.Append(recs[1].First, recs[1].Count, recs[1].Payload) })
		wantPanicked(t, "Append (rotating)", err)
		in.Store("")
		within(t, "Close", func() { _ = l.Close() })
	})
}

// TestFSPanicInAppendFailsLog: an FS whose Create panics while Append
// starts the next segment fails the log (sticky ErrFilePanicked naming
// the panic) and releases its mutex. Before, the panic went through
// Append with the log not failed, half through its rotation.
func TestFSPanicInAppendFailsLog(t *testing.T) {
	recs := genRecords(1, 3, 40)
	in := &atomic.Value{}
	l := openLog(t, Options{FS: panicFS{FS: vfs.NewMem(), in: in}, Dir: "/wal", Sync: SyncAlways, SegmentBytes: 1})
	appendAll(t, l, recs[:1])
	in.Store("Create")
	var err error
	var v any
	within(t, "Append", func() {
		defer func() { v = recover() }()
		_, err = l.Append(recs[1].First, recs[1].Count, recs[1].Payload)
	})
	if v != nil {
		t.Fatalf("Append panicked with %v; want the log failed and an error", v)
	}
	wantPanicked(t, "Append (new segment)", err)
	in.Store("")
	within(t, "the calls after", func() {
		if _, err := l.Append(recs[1].First, recs[1].Count, recs[1].Payload); !errors.Is(err, ErrFilePanicked) {
			t.Errorf("Append after the panic = %v; want the sticky error", err)
		}
		_ = l.Close()
	})
}
