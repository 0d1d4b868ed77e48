package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

type record struct {
	kind    uint8
	payload []byte
}

func sampleRecords(n int) []record {
	out := make([]record, n)
	for i := range out {
		p := make([]byte, (i*53)%200)
		for j := range p {
			p[j] = byte(i*7 + j)
		}
		out[i] = record{kind: uint8(i % 5), payload: p}
	}
	return out
}

func writeCheckpoint(t testing.TB, fs vfs.FS, dir string, lsn base.LSN, recs []record) string {
	t.Helper()
	w, err := Create(fs, dir, lsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Append(r.kind, r.payload); err != nil {
			t.Fatal(err)
		}
	}
	path, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func readCheckpoint(fs vfs.FS, path string) (base.LSN, []record, error) {
	r, err := Open(fs, path)
	if err != nil {
		return 0, nil, err
	}
	defer r.Close()
	var out []record
	for {
		k, p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.LSN(), out, nil
		}
		if err != nil {
			return r.LSN(), out, err
		}
		out = append(out, record{k, bytes.Clone(p)})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100, 3000, 40000} { // 40,000 records: ~4 MiB, whole buffers written directly where the filesystem can
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := t.TempDir()
			want := sampleRecords(n)
			path := writeCheckpoint(t, vfs.Default, dir, 12345, want)
			if filepath.Base(path) != "checkpoint-00000000000000012345.ckpt" {
				t.Fatalf("final name %s", path)
			}
			lsn, got, err := readCheckpoint(vfs.Default, path)
			if err != nil {
				t.Fatal(err)
			}
			if lsn != 12345 || len(got) != len(want) {
				t.Fatalf("lsn %d, %d records", lsn, len(got))
			}
			for i := range got {
				if got[i].kind != want[i].kind || !bytes.Equal(got[i].payload, want[i].payload) {
					t.Fatalf("record %d differs", i)
				}
			}
			if err := Verify(vfs.Default, path); err != nil {
				t.Fatal(err)
			}
			if names, _ := vfs.Default.List(dir); len(names) != 1 {
				t.Fatalf("leftover files: %v", names)
			}
		})
	}
}

func TestAppendRejects(t *testing.T) {
	w, err := Create(vfs.Default, t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Append(KindTrailer, nil); !errors.Is(err, ErrReservedKind) {
		t.Fatalf("trailer kind: %v", err)
	}
	if err := w.Append(1, make([]byte, MaxRecordBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}

// TestEveryTruncationFails cuts a checkpoint at every length short of its
// full size: each must be reported as corruption, never read as valid.
func TestEveryTruncationFails(t *testing.T) {
	dir := t.TempDir()
	path := writeCheckpoint(t, vfs.Default, dir, 7, sampleRecords(6))
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.ckpt")
	for n := 0; n < len(full); n++ {
		if err := os.WriteFile(cut, full[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		err := Verify(vfs.Default, cut)
		var ce *corruption.Error
		if !errors.As(err, &ce) || !errors.Is(err, corruption.ErrCorruption) || ce.File != cut {
			t.Fatalf("truncated to %d of %d: %v", n, len(full), err)
		}
	}
	// Bytes after the trailer are corruption too.
	os.WriteFile(cut, append(bytes.Clone(full), 0), 0o644)
	if err := Verify(vfs.Default, cut); !errors.Is(err, corruption.ErrCorruption) {
		t.Fatalf("trailing byte: %v", err)
	}
}

// TestEveryBitFlipFails flips every bit of a small checkpoint.
func TestEveryBitFlipFails(t *testing.T) {
	dir := t.TempDir()
	path := writeCheckpoint(t, vfs.Default, dir, 99, sampleRecords(4))
	full, _ := os.ReadFile(path)
	bad := filepath.Join(dir, "bad.ckpt")
	for i := 0; i < len(full)*8; i++ {
		b := bytes.Clone(full)
		b[i/8] ^= 1 << (i % 8)
		os.WriteFile(bad, b, 0o644)
		if err := Verify(vfs.Default, bad); !errors.Is(err, corruption.ErrCorruption) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
}

func TestListAndRemoveTemp(t *testing.T) {
	dir := t.TempDir()
	for _, lsn := range []base.LSN{50, 7, 1000, 300} {
		writeCheckpoint(t, vfs.Default, dir, lsn, sampleRecords(2))
	}
	// Leftovers and unrelated files.
	w, err := Create(vfs.Default, dir, 2000)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(1, []byte("half written"))
	os.WriteFile(filepath.Join(dir, "checkpoint-12.ckpt"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
	infos, err := List(vfs.Default, dir)
	if err != nil {
		t.Fatal(err)
	}
	var lsns []base.LSN
	for _, in := range infos {
		lsns = append(lsns, in.LSN)
		if in.Size <= HeaderSize {
			t.Fatalf("size of %s: %d", in.Path, in.Size)
		}
	}
	if fmt.Sprint(lsns) != "[1000 300 50 7]" {
		t.Fatalf("List order %v", lsns)
	}
	if err := RemoveTemp(vfs.Default, dir); err != nil {
		t.Fatal(err)
	}
	if vfs.Default.Exists(filepath.Join(dir, "checkpoint-00000000000000002000.ckpt.tmp")) {
		t.Fatal("temp file survived RemoveTemp")
	}
	if infos, err := List(vfs.Default, filepath.Join(dir, "missing")); err != nil || len(infos) != 0 {
		t.Fatalf("List of a missing dir: %v %v", infos, err)
	}
}

// failFS fails one named operation.
type failFS struct {
	vfs.FS
	failSync, failRename, failSyncDir bool
}

var errInjected = errors.New("injected failure")

type failFile struct {
	vfs.File
	fs *failFS
}

func (f failFile) Sync() error {
	if f.fs.failSync {
		return errInjected
	}
	return f.File.Sync()
}

func (fs *failFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return failFile{f, fs}, nil
}

func (fs *failFS) Rename(a, b string) error {
	if fs.failRename {
		return errInjected
	}
	return fs.FS.Rename(a, b)
}

func (fs *failFS) SyncDir(dir string) error {
	if fs.failSyncDir {
		return errInjected
	}
	return fs.FS.SyncDir(dir)
}

func TestFailedCommitLeavesNothing(t *testing.T) {
	for _, fs := range []*failFS{
		{FS: vfs.Default, failSync: true},
		{FS: vfs.Default, failRename: true},
		{FS: vfs.Default, failSyncDir: true},
	} {
		dir := t.TempDir()
		w, err := Create(fs, dir, 5)
		if err != nil {
			t.Fatal(err)
		}
		w.Append(1, []byte("x"))
		if _, err := w.Commit(); !errors.Is(err, errInjected) {
			t.Fatalf("%+v: Commit: %v", fs, err)
		}
		if names, _ := vfs.Default.List(dir); len(names) != 0 {
			t.Fatalf("%+v: files left: %v", fs, names)
		}
		if err := w.Append(1, nil); !errors.Is(err, errInjected) {
			t.Fatalf("Append after failure: %v", err)
		}
	}
	// Abort removes the temp file and finishes the writer.
	dir := t.TempDir()
	w, _ := Create(vfs.Default, dir, 5)
	w.Abort()
	if names, _ := vfs.Default.List(dir); len(names) != 0 {
		t.Fatalf("files left after Abort: %v", names)
	}
	if _, err := w.Commit(); !errors.Is(err, ErrFinished) {
		t.Fatalf("Commit after Abort: %v", err)
	}
}

func TestAppendAllocs(t *testing.T) {
	w, err := Create(vfs.Default, t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	p := make([]byte, 300)
	if a := testing.AllocsPerRun(1000, func() { w.Append(3, p) }); a != 0 {
		t.Fatalf("Append allocates %.1f times", a)
	}
}

func TestReaderAllocs(t *testing.T) {
	dir := t.TempDir()
	recs := make([]record, 3000)
	for i := range recs {
		recs[i] = record{1, make([]byte, 100)}
	}
	path := writeCheckpoint(t, vfs.Default, dir, 1, recs)
	r, err := Open(vfs.Default, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if a := testing.AllocsPerRun(1000, func() {
		if _, _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Next allocates %.1f times", a)
	}
}

// writebackFS hands out files that record the writeback calls a checkpoint
// makes.
type writebackFS struct {
	vfs.FS
	f *writebackFile
}

func (w *writebackFS) Create(name string) (vfs.File, error) {
	f, err := w.FS.Create(name)
	if err != nil {
		return nil, err
	}
	w.f = &writebackFile{File: f}
	return w.f, nil
}

type writebackFile struct {
	vfs.File
	written        int64
	started, waits [][2]int64
	maxInFlight    int64 // started but not waited for, the most seen
}

func (f *writebackFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.written += int64(n)
	return n, err
}

func (f *writebackFile) StartWriteback(off, n int64) error {
	f.started = append(f.started, [2]int64{off, n})
	var waited int64
	if k := len(f.waits); k > 0 {
		waited = f.waits[k-1][0] + f.waits[k-1][1]
	}
	f.maxInFlight = max(f.maxInFlight, off+n-waited)
	return nil
}

func (f *writebackFile) WaitWriteback(off, n int64) error {
	f.waits = append(f.waits, [2]int64{off, n})
	return nil
}

// TestWritebackIsBounded: a large checkpoint starts writing back each
// range as it goes (contiguous, only bytes already written) and waits for
// the range before, so no more than two ranges are ever in flight.
func TestWritebackIsBounded(t *testing.T) {
	fs := &writebackFS{FS: vfs.NewMem()}
	w, err := Create(fs, "/ck", 7)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 64<<10)
	for i := 0; i < 10*writebackBytes/len(payload); i++ {
		if err := w.Append(1, payload); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f := fs.f
	if len(f.started) < 8 || len(f.waits) != len(f.started) {
		t.Fatalf("%d writebacks started, %d waited for: want about 10 each", len(f.started), len(f.waits))
	}
	var next, waitedTo int64
	for i, s := range f.started {
		if s[0] != next || s[1] < writebackBytes || s[0]+s[1] > f.written {
			t.Fatalf("writeback %d covers [%d, +%d): want to start at %d, at least %d bytes, within the %d written", i, s[0], s[1], next, writebackBytes, f.written)
		}
		next = s[0] + s[1]
		if wt := f.waits[i]; wt[0] != waitedTo || wt[0]+wt[1] > s[0] {
			t.Fatalf("wait %d covers [%d, +%d): want the range before writeback %d, from %d", i, wt[0], wt[1], i, waitedTo)
		} else {
			waitedTo = wt[0] + wt[1]
		}
	}
	if f.maxInFlight > 3*writebackBytes {
		t.Fatalf("%d bytes were in flight at once, want at most about two ranges of %d", f.maxInFlight, writebackBytes)
	}
}

// TestNameMustMatchHeader: a checkpoint whose file name says another LSN
// than its header (renamed by hand, restored under the wrong name) is
// corruption: retention and log trimming go by the name. The control: the
// same file under its own name opens.
func TestNameMustMatchHeader(t *testing.T) {
	fs := vfs.NewMem()
	const dir = "/ck"
	if err := fs.MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	path := writeCheckpoint(t, fs, dir, 5, []record{{1, []byte("state")}})
	if lsn, _, err := readCheckpoint(fs, path); err != nil || lsn != 5 {
		t.Fatalf("under its own name: LSN %d, %v", lsn, err)
	}
	renamed := fs.Join(dir, FileName(7))
	if err := fs.Rename(path, renamed); err != nil {
		t.Fatal(err)
	}
	_, _, err := readCheckpoint(fs, renamed)
	var ce *corruption.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "file name says LSN 7, header says LSN 5") {
		t.Fatalf("renamed to LSN 7: %v, want corruption naming both LSNs", err)
	}
}
