package mmsb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
)

func TestWaitLSN(t *testing.T) {
	ctx := context.Background()
	for _, dir := range []string{"", t.TempDir()} {
		bus, err := mmsb.Open(dir, &mmsb.Options{Sync: mmsb.SyncGroup})
		if err != nil {
			t.Fatal(err)
		}
		id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
		if err != nil {
			t.Fatal(err)
		}
		// Already past: returns at once, durable.
		if got, err := bus.WaitLSN(ctx, 0); err != nil || got != bus.LastLSN() {
			t.Fatalf("WaitLSN(0) = %d, %v", got, err)
		}
		if d := bus.Stats().Log.DurableLSN; d < bus.LastLSN() {
			t.Fatalf("WaitLSN returned before durability: durable %d last %d", d, bus.LastLSN())
		}
		// Blocks until the next operation, then reports it.
		after := bus.LastLSN()
		got := make(chan mmsb.LSN, 1)
		go func() {
			l, err := bus.WaitLSN(ctx, after)
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
		info, err := bus.CommitAsync(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))})
		if err != nil {
			t.Fatal(err)
		}
		if l := <-got; l < info.LastLSN {
			t.Fatalf("WaitLSN = %d, want >= %d", l, info.LastLSN)
		}
		// A cancelled context and a closed bus end the wait.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := bus.WaitLSN(cctx, bus.LastLSN()); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
		closed := make(chan error, 1)
		go func() { _, err := bus.WaitLSN(ctx, bus.LastLSN()); closed <- err }()
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-closed; !errors.Is(err, mmsb.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	}
}

func TestLogStatsOldestLSN(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open(t.TempDir(), &mmsb.Options{SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if o := bus.Stats().Log.OldestLSN; o != 0 {
		t.Fatalf("empty log: OldestLSN %d", o)
	}
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if o := bus.Stats().Log.OldestLSN; o != 1 {
		t.Fatalf("OldestLSN %d, want 1", o)
	}
	for range 3 {
		for range 30 {
			if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, make([]byte, 600))}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := bus.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	oldest := bus.Stats().Log.OldestLSN
	if oldest <= 1 {
		t.Fatalf("no segment removed: OldestLSN %d", oldest)
	}
	var first mmsb.LSN
	_ = bus.QueryLog(ctx, mmsb.LogQuery{}, func(lo *mmsb.LoggedOp) bool { first = lo.LSN; return false })
	if first != oldest {
		t.Fatalf("QueryLog starts at %d, OldestLSN says %d", first, oldest)
	}
}
