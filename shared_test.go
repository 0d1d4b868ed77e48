package mmsb_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// shmTestDir returns a fresh directory for shared regions: on /dev/shm
// (tmpfs, as in production) when it exists, removed after the test.
// MMSB_TEST_SHM names another tmpfs instead (e.g. one mounted with
// huge=advise, to run the torture tests on huge pages).
func shmTestDir(t testing.TB) string {
	t.Helper()
	base := ""
	if st, err := os.Stat(mmsb.DefaultSharedDir); err == nil && st.IsDir() {
		base = mmsb.DefaultSharedDir
	}
	if d := os.Getenv("MMSB_TEST_SHM"); d != "" {
		base = d
	}
	d, err := os.MkdirTemp(base, "mmsb-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

func openShared(t testing.TB, dir, shm string) *mmsb.Bus {
	t.Helper()
	b, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm, Sync: mmsb.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sharedBusAndReader opens a shared bus in a directory of its own and a
// Reader of it; both are closed when the test ends, the Reader first.
func sharedBusAndReader(t testing.TB) (*mmsb.Bus, *mmsb.Reader) {
	t.Helper()
	dir, shm := t.TempDir(), shmTestDir(t)
	bus := openShared(t, dir, shm)
	t.Cleanup(func() { _ = bus.Close() })
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rd.Close() })
	return bus, rd
}

// uniformPage returns size bytes whose every 8-byte word holds v.
func uniformPage(size int, v uint64) []byte {
	b := make([]byte, size)
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], v)
	}
	return b
}

// tornAt returns the offset of the first 8-byte word that differs from the
// first, or -1 when the page is uniform (the torture tests' torn-read
// detector).
func tornAt(b []byte) int {
	if len(b) < 8 {
		return -1
	}
	w := binary.LittleEndian.Uint64(b)
	for i := 8; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != w {
			return i
		}
	}
	return -1
}

// TestTornDetector is the negative control of the torn-read checker: a
// page mixing two counters must be flagged.
func TestTornDetector(t *testing.T) {
	p := uniformPage(1024, 7)
	if tornAt(p) != -1 {
		t.Fatal("uniform page flagged")
	}
	copy(p[512:], uniformPage(512, 8))
	if got := tornAt(p); got != 512 {
		t.Fatalf("torn page: tornAt = %d, want 512", got)
	}
}

func TestSharedReaderBasics(t *testing.T) {
	ctx := context.Background()
	dir, shm := t.TempDir(), shmTestDir(t)
	bus := openShared(t, dir, shm)
	defer bus.Close()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}, {Size: 16}, {Size: 3 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{
		mmsb.Write(ids[0], 0, uniformPage(1024, 5)), mmsb.Write(ids[1], 8, []byte("hello!!!")),
		mmsb.Write(ids[2], 3<<19, []byte("big")),
	}); err != nil {
		t.Fatal(err)
	}
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for _, id := range ids {
		want, wep, _ := bus.ReadPage(id, nil)
		got, ep, lsn, err := rd.ReadPage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || ep != wep || lsn == 0 {
			t.Fatalf("page %d: reader epoch %d lsn %d, bus epoch %d; bytes equal %v", id, ep, lsn, wep, bytes.Equal(got, want))
		}
	}
	if got := rd.LastLSN(); got != bus.Stats().LastLSN {
		t.Fatalf("LastLSN %d, bus %d", got, bus.Stats().LastLSN)
	}
	pages, err := rd.Pages()
	if err != nil || len(pages) != 3 || pages[0] != ids[0] || pages[2] != ids[2] {
		t.Fatalf("Pages = %v, %v; want %v", pages, err, ids)
	}
	// View sees the bytes in place, and fn's error comes back.
	sentinel := errors.New("stop")
	if err := rd.View(ids[1], func(b []byte) error {
		if string(b[8:]) != "hello!!!" {
			t.Errorf("view %q", b)
		}
		return sentinel
	}); !errors.Is(err, sentinel) {
		t.Fatalf("View error %v", err)
	}
	snap, at, err := rd.Snapshot(ids)
	if err != nil || at != rd.LastLSN() || len(snap) != 3 || snap[2].LSN > at {
		t.Fatalf("Snapshot at %d: %v", at, err)
	}

	// Free and reuse: the freed page disappears; its slot and cell go to
	// a new page, which the reader finds with fresh bytes.
	if err := bus.FreePage(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := rd.ReadPage(ids[0], nil); !errors.Is(err, mmsb.ErrPageNotFound) {
		t.Fatalf("freed page: %v", err)
	}
	if err := bus.FreePage(ctx, ids[2]); err != nil { // a large page: its own file
		t.Fatal(err)
	}
	nid, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 1024})
	if err != nil {
		t.Fatal(err)
	}
	big, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(nid, 0, uniformPage(1024, 9)), mmsb.Write(big, 8, []byte{1})}); err != nil {
		t.Fatal(err)
	}
	got, _, _, err := rd.ReadPage(nid, nil)
	if err != nil || tornAt(got) != -1 || binary.LittleEndian.Uint64(got) != 9 {
		t.Fatalf("reused slot: %v %v", err, got[:16])
	}
	got, _, _, err = rd.ReadPage(big, nil)
	if err != nil || len(got) != 2<<20 || got[8] != 1 {
		t.Fatalf("new large page: %v", err)
	}

	// Growth while the reader is open: slot arrays (16Ki slots at first)
	// and many chunks are added; the reader remaps lazily.
	specs := make([]mmsb.PageSpec, 40000)
	for i := range specs {
		specs[i].Size = 256
	}
	more, err := bus.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	last := more[len(more)-1]
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(last, 0, []byte("end"))}); err != nil {
		t.Fatal(err)
	}
	got, _, _, err = rd.ReadPage(last, nil)
	if err != nil || string(got[:3]) != "end" {
		t.Fatalf("page after growth: %v", err)
	}
	if pages, err := rd.Pages(); err != nil || len(pages) != 40003 {
		t.Fatalf("Pages after growth: %d, %v", len(pages), err)
	}

	// Wait returns once a commit passes the LSN.
	before := rd.LastLSN()
	done := make(chan mmsb.LSN, 1)
	go func() {
		l, err := rd.Wait(ctx, before)
		if err != nil {
			t.Error(err)
		}
		done <- l
	}()
	time.Sleep(time.Millisecond) // not needed for correctness: exercises the sleeping path
	info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(last, 0, []byte("new"))})
	if err != nil {
		t.Fatal(err)
	}
	if l := testutil.Recv(t, done, "Reader.Wait did not return after a commit past its LSN"); l < info.LastLSN {
		t.Fatalf("Wait returned %d, commit %d", l, info.LastLSN)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if _, err := rd.Wait(wctx, rd.LastLSN()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with no commit: %v", err)
	}

	// A clean close: readers learn that the writer is gone, waiters too.
	waitErr := make(chan error, 1)
	go func() {
		_, err := rd.Wait(ctx, rd.LastLSN())
		waitErr <- err
	}()
	time.Sleep(time.Millisecond) // not needed for correctness: lets Wait reach the futex
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Recv(t, waitErr, "Reader.Wait did not return after the writer closed"); !errors.Is(err, mmsb.ErrWriterGone) {
		t.Fatalf("Wait across the writer's Close: %v", err)
	}
	if _, _, _, err := rd.ReadPage(nid, nil); !errors.Is(err, mmsb.ErrWriterGone) {
		t.Fatalf("after writer Close: %v", err)
	}
	if _, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm}); !errors.Is(err, mmsb.ErrWriterGone) {
		t.Fatalf("OpenReader with no writer: %v", err)
	}
}

// TestSharedPermissions checks the mode bits: owner only by default, the
// group too with SharedGroup.
func TestSharedPermissions(t *testing.T) {
	for _, group := range []bool{false, true} {
		dir, shm := t.TempDir(), shmTestDir(t)
		bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm, SharedGroup: group})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 64}); err != nil {
			t.Fatal(err)
		}
		wantDir, wantFile := os.FileMode(0o700), os.FileMode(0o600)
		if group {
			wantDir, wantFile = 0o750, 0o640
		}
		region := bus.SharedPath()
		st, err := os.Stat(region)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != wantDir {
			t.Errorf("group=%v: region dir mode %v, want %v", group, st.Mode().Perm(), wantDir)
		}
		ents, err := os.ReadDir(region)
		if err != nil || len(ents) < 6 {
			t.Fatalf("region files: %d, %v", len(ents), err)
		}
		for _, e := range ents {
			fi, err := os.Stat(filepath.Join(region, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != wantFile {
				t.Errorf("group=%v: %s mode %v, want %v", group, e.Name(), fi.Mode().Perm(), wantFile)
			}
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(region); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("region left after Close: %v", err)
		}
	}
}

// TestSharedOptions: shared mode needs an on-disk bus.
func TestSharedOptions(t *testing.T) {
	if _, err := mmsb.Open("", &mmsb.Options{Shared: true}); !errors.Is(err, mmsb.ErrInvalidOption) {
		t.Fatalf("in-memory shared bus: %v", err)
	}
}

// TestSharedSymlinkedDir: a reader naming the bus through a symbolic link
// finds the writer's region.
func TestSharedSymlinkedDir(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	bus := openShared(t, dir, shm)
	defer bus.Close()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		testutil.Missing(t, "no symlinks: %v", err)
	}
	rd, err := mmsb.OpenReader(link, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatalf("reader through a symlink: %v", err)
	}
	_ = rd.Close()
}
