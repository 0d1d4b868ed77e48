package tlog

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/vfs"
)

// nilPathError is an error type whose Error dereferences its receiver: a
// typed nil of it, returned as an error (a classic Go slip in a caller's
// own vfs.FS), is a non-nil error whose Error panics.
type nilPathError struct{ path string }

func (e *nilPathError) Error() string { return "bad " + e.path }

// typedNilFS's files return a typed nil *nilPathError from Sync once armed.
type typedNilFS struct {
	vfs.FS
	armed *atomic.Bool
}

type typedNilFile struct {
	vfs.File
	armed *atomic.Bool
}

func (fs typedNilFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return typedNilFile{f, fs.armed}, nil
}

func (f typedNilFile) Sync() error {
	if f.armed.Load() {
		var e *nilPathError
		return e
	}
	return f.File.Sync()
}

// TestFlushErrorMethodPanicFailsLog: a segment file's Sync that returns
// an error whose Error method panics fails the log like any other failed
// fsync, in a Wait and in the background flusher: the bookkeeping that a
// flush does under the log's mutex after its I/O formats the error (the
// log's sticky failure) with fmt, which recovers a panicking Error method,
// so nothing there panics with the mutex held or a flush marked in flight.
// Later calls answer and Close ends.
func TestFlushErrorMethodPanicFailsLog(t *testing.T) {
	recs := genRecords(1, 3, 40)
	for _, flusher := range []bool{false, true} {
		name := "wait"
		if flusher {
			name = "flusher"
		}
		t.Run(name, func(t *testing.T) {
			var armed atomic.Bool
			l := openLog(t, Options{FS: typedNilFS{FS: vfs.NewMem(), armed: &armed}, Dir: "/wal", Sync: SyncGroup})
			appendAll(t, l, recs[:1])
			armed.Store(true)
			tk, err := l.Append(recs[1].First, recs[1].Count, recs[1].Payload)
			if err != nil {
				t.Fatal(err)
			}
			if flusher {
				l.Kick()
				within(t, "the flusher", func() {
					for l.Err() == nil {
						time.Sleep(time.Millisecond)
					}
				})
				err = l.Err()
			} else {
				within(t, "Wait", func() { err = l.Wait(context.Background(), tk) })
			}
			if err == nil || !strings.Contains(err.Error(), "fsync") {
				t.Fatalf("the flush = %v; want the log's failure naming the fsync", err)
			}
			within(t, "the calls after", func() {
				if err := l.Sync(); err == nil {
					t.Error("Sync after the failed fsync = nil; want the sticky error")
				}
				armed.Store(false)
				if err := l.Close(); err == nil {
					t.Error("Close after the failed fsync = nil; want the sticky error")
				}
			})
		})
	}
}
