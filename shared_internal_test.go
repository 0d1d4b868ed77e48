package mmsb

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSharedStuckWriter: a page left mid-write (sequence word odd) by a
// writer that is alive but stuck gives ErrWriterGone after WriterTimeout,
// not an endless spin; once the write ends, reads succeed again.
func TestSharedStuckWriter(t *testing.T) {
	ctx := context.Background()
	shm := scratchShmDir(t)
	dir := t.TempDir()
	bus, err := Open(dir, &Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(ctx, PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm, WriterTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if _, _, _, err := rd.ReadPage(id, nil); err != nil {
		t.Fatal(err)
	}
	sl, _ := bus.store.Lookup(id)
	// The next LSN: the sequence words stay increasing for later commits.
	lsn := uint64(bus.lastLSN) + 1
	bus.store.BeginWrite(sl, lsn)
	_, _, _, err = rd.ReadPage(id, nil)
	bus.store.EndWrite(sl, lsn)
	if !errors.Is(err, ErrWriterGone) {
		t.Fatalf("page stuck mid-write: %v", err)
	}
	if _, _, _, err := rd.ReadPage(id, nil); err != nil {
		t.Fatalf("after the write ended: %v", err)
	}
}

// TestReaderWaitChecksCancelBeforeEachSleep: once past its spin, each round
// of Wait is a futex sleep of up to waitSlice, and ctx is checked before
// every one. It was checked every 64th round only, so a cancel was noticed
// up to 63 sleeps (~315 ms) later. The hook cancels ctx at the first sleep
// and counts sleeps: Wait must return context.Canceled before a second.
func TestReaderWaitChecksCancelBeforeEachSleep(t *testing.T) {
	shm := scratchShmDir(t)
	dir := t.TempDir()
	bus, err := Open(dir, &Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sleeps := 0
	rd.waitSleeping = func() {
		if sleeps++; sleeps == 1 {
			cancel()
		}
	}
	if _, err := rd.Wait(ctx, rd.LastLSN()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait: %v, want context.Canceled", err)
	}
	if sleeps != 1 {
		t.Fatalf("Wait slept %d times after its context was cancelled at the first sleep, want it to return before the next", sleeps)
	}
}
