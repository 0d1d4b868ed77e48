package tlog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// tb is the part of testing.TB that the helpers need; *rapid.T has it too.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// payloadFor returns a deterministic payload for a record starting at lsn.
func payloadFor(lsn base.LSN, n int) []byte {
	p := make([]byte, n)
	x := uint64(lsn)*0x9e3779b97f4a7c15 + 1
	for i := range p {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x)
	}
	return p
}

// rec is a record summary used to compare logs.
type rec struct {
	First   base.LSN
	Count   uint32
	Payload []byte
}

// genRecords makes n records starting at first with counts 1..3 and
// payload sizes 0..size.
func genRecords(first base.LSN, n, size int) []rec {
	out := make([]rec, n)
	lsn := first
	for i := range out {
		c := uint32(i%3 + 1)
		out[i] = rec{First: lsn, Count: c, Payload: payloadFor(lsn, (i*37)%(size+1))}
		lsn += base.LSN(c)
	}
	return out
}

func openLog(t tb, opts Options) *Log {
	t.Helper()
	l, _, err := Open(opts, 0, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func appendAll(t tb, l *Log, recs []rec) {
	t.Helper()
	for _, r := range recs {
		tk, err := l.Append(r.First, r.Count, r.Payload)
		if err != nil {
			t.Fatalf("Append(%d): %v", r.First, err)
		}
		if err := l.Wait(context.Background(), tk); err != nil {
			t.Fatalf("Wait(%d): %v", r.First, err)
		}
	}
}

// writeLog creates a log in dir holding recs and closes it.
func writeLog(t tb, dir string, segBytes int64, recs []rec) {
	t.Helper()
	l := openLog(t, Options{FS: vfs.Default, Dir: dir, SegmentBytes: segBytes})
	appendAll(t, l, recs)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// replay opens dir and returns the records replayed from replayFrom.
func replay(t tb, opts Options, replayFrom base.LSN) ([]rec, RecoveryReport, *Log, error) {
	t.Helper()
	var got []rec
	l, rep, err := Open(opts, replayFrom, func(r *Record) error {
		got = append(got, rec{r.FirstLSN, r.Count, bytes.Clone(r.Payload)})
		return nil
	})
	return got, rep, l, err
}

// readAll reads dir with a Reader from `from`.
func readAll(t tb, dir string, from base.LSN) ([]rec, error) {
	t.Helper()
	r, err := NewReader(vfs.Default, dir, from)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	defer r.Close()
	var got []rec
	for {
		x, err := r.Next()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, rec{x.FirstLSN, x.Count, bytes.Clone(x.Payload)})
	}
}

// checkAll runs Check and returns its findings.
func checkAll(t tb, dir string) ([]SegmentInfo, []Problem, []rec) {
	t.Helper()
	var probs []Problem
	var recs []rec
	infos, err := Check(vfs.Default, dir, func(r *Record) error {
		recs = append(recs, rec{r.FirstLSN, r.Count, bytes.Clone(r.Payload)})
		return nil
	}, func(p Problem) { probs = append(probs, p) })
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return infos, probs, recs
}

func equalRecs(t tb, got, want []rec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].First != want[i].First || got[i].Count != want[i].Count || !bytes.Equal(got[i].Payload, want[i].Payload) {
			t.Fatalf("record %d: got (%d,%d,%d bytes), want (%d,%d,%d bytes)", i,
				got[i].First, got[i].Count, len(got[i].Payload), want[i].First, want[i].Count, len(want[i].Payload))
		}
	}
}

// recordOffsets returns the (file, offset) of every record, via Check.
func recordOffsets(t tb, dir string) (files []string, offs []int64) {
	t.Helper()
	_, err := Check(vfs.Default, dir, func(r *Record) error {
		files = append(files, r.File)
		offs = append(offs, r.Offset)
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return files, offs
}

// copyDir copies the regular files of src into a new temp dir.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func segPaths(t tb, dir string) []string {
	t.Helper()
	segs, err := listSegments(vfs.Default, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range segs {
		out = append(out, s.path)
	}
	return out
}

func fileSize(t tb, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func flipByte(t tb, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func asCorruption(t tb, err error) *corruption.Error {
	t.Helper()
	var ce *corruption.Error
	if !errors.As(err, &ce) || !errors.Is(err, corruption.ErrCorruption) {
		t.Fatalf("want *corruption.Error, got %v", err)
	}
	return ce
}

// faultFS wraps an FS so tests can make File.Sync fail or block.
type faultFS struct {
	vfs.FS
	failSync  atomic.Bool
	syncs     atomic.Int64
	blockSync chan struct{} // if non-nil, Sync waits for it to close
	inSync    chan struct{} // signalled when a Sync starts blocking
	once      sync.Once
}

var errInjected = errors.New("injected fsync failure")

type faultFile struct {
	vfs.File
	fs *faultFS
}

func (f faultFile) Sync() error {
	f.fs.syncs.Add(1)
	if f.fs.blockSync != nil {
		f.fs.once.Do(func() { close(f.fs.inSync) })
		<-f.fs.blockSync
	}
	if f.fs.failSync.Load() {
		return errInjected
	}
	return f.File.Sync()
}

func (fs *faultFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return faultFile{f, fs}, nil
}

func (fs *faultFS) OpenAppend(name string) (vfs.File, error) {
	f, err := fs.FS.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return faultFile{f, fs}, nil
}
