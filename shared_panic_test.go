package mmsb

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSharedPanicMidWriteTellsReaders: a panic of the bus's own code
// between a shared page's BeginWrite and EndWrite (made here by the test
// hook) fails the bus and marks its region closed, as Close does: a
// Reader of that page gets ErrWriterGone naming the closed region at
// once, not "mid-write" after its WriterTimeout, and a Reader of another
// page is told too (a torn page in the region: the whole region is
// closed, as after Close); View's
// lock-free path of another page stops at the next liveness check. The
// bus itself still answers reads and closes.
func TestSharedPanicMidWriteTellsReaders(t *testing.T) {
	shm := scratchShmDir(t)
	dir := t.TempDir()
	bus, err := Open(dir, &Options{Shared: true, SharedDir: shm, Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer boundedCall(t, "Close", func() { _ = bus.Close() })
	ids, err := bus.CreatePages(ctx, []PageSpec{{Size: 64}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	// Long enough that a read that waits it out cannot be mistaken for
	// one told at once, short enough for the control to end.
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm, WriterTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if _, _, _, err := rd.ReadPage(ids[0], nil); err != nil {
		t.Fatal(err)
	}
	bus.sharedApplyHook = func() { panic("defect mid-write") }
	if v := boundedCall(t, "Commit", func() { _, _ = bus.Commit(ctx, []Delta{w(ids[0], 0, "x")}) }); v == nil {
		t.Fatal("Commit did not panic: the test's defect was not reached")
	}
	if err := bus.Err(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Err() after the panic = %v; want ErrFailed", err)
	}
	for _, id := range ids {
		_, _, _, err := rd.ReadPage(id, nil)
		if !errors.Is(err, ErrWriterGone) || strings.Contains(err.Error(), "mid-write") {
			t.Errorf("reader's ReadPage(%d) after the writer failed mid-write = %v; want ErrWriterGone for the closed region, not a mid-write timeout", id, err)
		}
	}
	// View's lock-free path fails on the page left mid-write and takes
	// the checked path, told at once; on the other page it serves until
	// the liveness check (every LivenessInterval) withdraws it, as after
	// a Close.
	noop := func([]byte) error { return nil }
	if err := rd.View(ids[0], noop); !errors.Is(err, ErrWriterGone) || strings.Contains(err.Error(), "mid-write") {
		t.Errorf("reader's View of the page left mid-write = %v; want ErrWriterGone for the closed region", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		err := rd.View(ids[1], noop)
		if errors.Is(err, ErrWriterGone) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("reader's View of another page after the writer failed = %v; want ErrWriterGone within the liveness interval", err)
		}
	}
	if _, _, err := bus.ReadPage(ids[1], nil); !errors.Is(err, ErrFailed) {
		t.Errorf("the failed bus's own ReadPage = %v; want ErrFailed (its pages may hold part of the batch)", err)
	}
}
