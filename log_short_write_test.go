package mmsb

import (
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// walShortFS's files under wal/, while short is set, write half of each
// buffer and report no error: a caller's Options.FS breaking io.Writer's
// contract.
type walShortFS struct {
	vfs.FS
	short *atomic.Bool
}

type walShortFile struct {
	vfs.File
	short *atomic.Bool
}

func (fs walShortFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.Contains(name, "wal") {
		return f, err
	}
	return walShortFile{f, fs.short}, nil
}

func (fs walShortFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

func (fs walShortFS) OpenAppend(name string) (vfs.File, error) {
	f, err := fs.FS.OpenAppend(name)
	return fs.wrap(name, f, err)
}

func (f walShortFile) Write(p []byte) (int, error) {
	if f.short.Load() {
		return f.File.Write(p[:len(p)/2])
	}
	return f.File.Write(p)
}

// TestLogSilentShortWriteFailsBus: a commit whose log write is cut short
// with no error (Options.FS breaking io.Writer's contract) fails, and fails
// the bus, as any other log write error does; the commits acknowledged
// before it are all that a reopened bus recovers. Before, Commit returned
// success for a record of which half reached wal/, and the reopened bus
// had lost it.
func TestLogSilentShortWriteFailsBus(t *testing.T) {
	mem := vfs.NewMem()
	var short atomic.Bool
	e := openT(t, "/db", &Options{FS: walShortFS{mem, &short}, Sync: SyncAlways})
	mustCreate(t, e, 1, 16)
	if _, err := e.Commit(ctx, []delta.Delta{w(1, 0, "kept")}); err != nil {
		t.Fatal(err)
	}
	want := hashOf(t, e)
	lsn := e.LastLSN()

	short.Store(true)
	_, err := e.Commit(ctx, []delta.Delta{w(1, 0, "lost")})
	if !errors.Is(err, ErrFailed) || !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("Commit with its log write cut short = %v; want ErrFailed wrapping io.ErrShortWrite", err)
	}
	if err := e.Err(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Err() = %v; want ErrFailed", err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(1, 0, "more")}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Commit after the failure = %v; want ErrFailed", err)
	}
	_ = e.Close() // failed: Close reports the failure
	short.Store(false)

	r := openT(t, "/db", &Options{FS: mem})
	if got := r.LastLSN(); got != lsn {
		t.Fatalf("reopened LastLSN = %d; want %d (the last acknowledged commit)", got, lsn)
	}
	if got := hashOf(t, r); got != want {
		t.Fatalf("reopened state hash %x; want %x (the acknowledged state)", got, want)
	}
}
