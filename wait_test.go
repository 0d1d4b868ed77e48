package mmsb_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
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
		if l := testutil.Recv(t, got, "WaitLSN did not return after a commit past its LSN"); l < info.LastLSN {
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
		if err := testutil.Recv(t, closed, "WaitLSN did not return after the bus closed"); !errors.Is(err, mmsb.ErrClosed) {
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

// TestWaitLSNOnFailedBus: once the bus has failed (sticky), WaitLSN for an
// LSN not yet logged returns the failure, as its doc says, instead of
// waiting for an operation that can never be logged (it waited until ctx
// ended). The deadline only bounds a regression's wait: the assertion is
// on the error.
func TestWaitLSNOnFailedBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected))
	bus, err := mmsb.Open("/db", &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: mmsb.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	tog.On()
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); !errors.Is(err, mmsb.ErrFailed) {
		t.Fatalf("Commit with failing fsync = %v, want mmsb.ErrFailed", err)
	}
	for _, after := range []mmsb.LSN{bus.LastLSN(), bus.LastLSN() + 5} {
		if _, err := bus.WaitLSN(ctx, after); !errors.Is(err, mmsb.ErrFailed) || !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("WaitLSN(%d) on a failed bus = %v, want mmsb.ErrFailed wrapping the injected error", after, err)
		}
	}
}

// TestWaitDurableRefusesUncommittedLSN: WaitDurable of an LSN after the
// last committed one is ErrInvalidOption at once: nothing could make it
// durable, and the log's flush used to fsync over and over waiting for
// it (Close then waited too). The bus stays usable.
func TestWaitDurableRefusesUncommittedLSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, dir := range []string{"", t.TempDir()} {
		bus, err := mmsb.Open(dir, &mmsb.Options{Sync: mmsb.SyncGroup})
		if err != nil {
			t.Fatal(err)
		}
		id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
		if err != nil {
			t.Fatal(err)
		}
		info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))})
		if err != nil {
			t.Fatal(err)
		}
		if err := bus.WaitDurable(ctx, info.LastLSN); err != nil {
			t.Fatalf("WaitDurable of the last LSN: %v", err)
		}
		for _, lsn := range []mmsb.LSN{info.LastLSN + 1, math.MaxUint64} {
			if err := bus.WaitDurable(ctx, lsn); !errors.Is(err, mmsb.ErrInvalidOption) {
				t.Fatalf("dir %q: WaitDurable(%d) after LSN %d = %v, want mmsb.ErrInvalidOption", dir, lsn, info.LastLSN, err)
			}
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenRefusesTooManyWorkers: a worker count over MaxWorkers is
// ErrInvalidOption; it asked Open for per-worker state sized by the count
// (INT32_MAX from a C caller was a fatal out-of-memory).
func TestOpenRefusesTooManyWorkers(t *testing.T) {
	for _, n := range []int{mmsb.MaxWorkers + 1, math.MaxInt32} {
		if bus, err := mmsb.Open("", &mmsb.Options{Workers: n}); !errors.Is(err, mmsb.ErrInvalidOption) {
			if bus != nil {
				_ = bus.Close()
			}
			t.Fatalf("Open with %d workers = %v, want mmsb.ErrInvalidOption", n, err)
		}
	}
	bus, err := mmsb.Open("", &mmsb.Options{Workers: mmsb.MaxWorkers})
	if err != nil {
		t.Fatalf("Open with MaxWorkers: %v", err)
	}
	_ = bus.Close()
}

// TestOpenRefusesCrawlingCheckpoints: a positive CheckpointWriteRate below
// MinCheckpointWriteRate is ErrInvalidOption. At 1 byte/s one automatic
// checkpoint of a megabyte took ten days, and Close waited for it.
func TestOpenRefusesCrawlingCheckpoints(t *testing.T) {
	for _, r := range []int64{1, mmsb.MinCheckpointWriteRate - 1} {
		if bus, err := mmsb.Open(t.TempDir(), &mmsb.Options{CheckpointWriteRate: r}); !errors.Is(err, mmsb.ErrInvalidOption) {
			if bus != nil {
				_ = bus.Close()
			}
			t.Fatalf("Open with CheckpointWriteRate %d = %v, want mmsb.ErrInvalidOption", r, err)
		}
	}
	for _, r := range []int64{-1, 0, mmsb.MinCheckpointWriteRate} {
		bus, err := mmsb.Open(t.TempDir(), &mmsb.Options{CheckpointWriteRate: r})
		if err != nil {
			t.Fatalf("Open with CheckpointWriteRate %d: %v", r, err)
		}
		_ = bus.Close()
	}
}

// TestOpenRefusesHugeHistory: a history ring over MaxHistoryEntries is
// ErrInvalidOption. math.MaxInt hung Open (the power-of-two round-up
// overflowed to zero and looped forever) and 1<<40 entries crashed it out
// of memory. A count within the bound is rounded up to a power of two.
func TestOpenRefusesHugeHistory(t *testing.T) {
	for _, n := range []int{mmsb.MaxHistoryEntries + 1, math.MaxInt} {
		if bus, err := mmsb.Open("", &mmsb.Options{HistoryEntries: n}); !errors.Is(err, mmsb.ErrInvalidOption) {
			if bus != nil {
				_ = bus.Close()
			}
			t.Fatalf("Open with HistoryEntries %d = %v, want mmsb.ErrInvalidOption", n, err)
		}
	}
	bus, err := mmsb.Open("", &mmsb.Options{HistoryEntries: 1000})
	if err != nil {
		t.Fatalf("Open with HistoryEntries 1000: %v", err)
	}
	if st := bus.Stats(); st.HistoryCapacity != 1024 {
		t.Fatalf("history capacity %d, want 1024", st.HistoryCapacity)
	}
	_ = bus.Close()
}
