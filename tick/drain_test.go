package tick

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestDrainCommitsWhatWaits: Drain ticks until nothing submitted waits,
// so that a Close after it drops nothing; with its context ended it
// commits nothing and says how many wait; on a bus that refuses writes it
// returns the refusal instead of ticking for ever. (Close dropped what
// waited, and `mmsb serve` closed its orchestrator without a last tick:
// deltas its Submit had acknowledged were lost at every graceful stop.)
func TestDrainCommitsWhatWaits(t *testing.T) {
	e := openT(t, "", nil)
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	o := newOrch(t, e, &Options{QueueSize: 16, MaxBatch: 2})
	submit := func() {
		t.Helper()
		for i, id := range ids {
			d := f64Write(id, float64(10+i))
			if err := o.Submit(ctx, &d); err != nil {
				t.Fatal(err)
			}
		}
	}

	submit()
	done, cancel := context.WithCancel(ctx)
	cancel()
	if left, err := o.Drain(done); left != 3 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain with its context ended = %d, %v; want 3 waiting, context.Canceled", left, err)
	}
	if got := readF64(t, e, ids[0]); got != 0 {
		t.Fatalf("page %d = %v after a Drain whose context had ended, want 0", ids[0], got)
	}

	// MaxBatch 2: a tick takes two of the three, so Drain must tick twice.
	if left, err := o.Drain(ctx); left != 0 || err != nil {
		t.Fatalf("Drain = %d, %v; want 0, nil", left, err)
	}
	if n := o.QueueLen(); n != 0 {
		t.Fatalf("QueueLen after Drain = %d, want 0", n)
	}
	for i, id := range ids {
		if got := readF64(t, e, id); got != float64(10+i) {
			t.Fatalf("page %d = %v after Drain, want %v", id, got, float64(10+i))
		}
	}

	submit()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if left, err := o.Drain(ctx); left != 3 || !errors.Is(err, mmsb.ErrClosed) {
		t.Fatalf("Drain on a closed bus = %d, %v; want 3 waiting, mmsb.ErrClosed", left, err)
	}
}

// TestDrainReportsWhatCloseDropped: once the orchestrator is closed, before
// Drain or while it drains (a hook, a signal handler), Drain returns
// mmsb.ErrClosed and the number of submitted deltas that Close dropped
// uncommitted, queued or kept by a tick (0, nil where it dropped none). It
// returned 0, nil: QueueLen is 0 once closed, so the deltas Close dropped
// looked committed.
func TestDrainReportsWhatCloseDropped(t *testing.T) {
	tests := []struct {
		name string
		// setup submits (submit(n): n more deltas, one page each) and
		// closes as the case needs; committed is how many of the submitted
		// deltas, first in line, a tick committed.
		setup     func(t *testing.T, e *mmsb.Bus, o *Orchestrator, submit func(n int))
		wantLeft  int
		committed int
	}{
		{name: "closed by a hook during Drain", setup: func(t *testing.T, _ *mmsb.Bus, o *Orchestrator, submit func(int)) {
			submit(3)
			if err := o.RegisterInvariant("closer", 1, o.Close); err != nil {
				t.Fatal(err)
			}
		}, wantLeft: 2, committed: 1},
		{name: "closed before Drain with deltas queued", setup: func(t *testing.T, _ *mmsb.Bus, o *Orchestrator, submit func(int)) {
			submit(3)
			_ = o.Close()
		}, wantLeft: 3},
		{name: "closed with deltas kept by a tick and queued", setup: func(t *testing.T, e *mmsb.Bus, o *Orchestrator, submit func(int)) {
			submit(3)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			// MaxBatch 1: the tick keeps one, two stay queued.
			if r, err := o.Tick(ctx); !errors.Is(err, mmsb.ErrClosed) || r.Kept != 1 {
				t.Fatalf("tick on a closed bus: %v, want 1 kept and mmsb.ErrClosed", err)
			}
			submit(2)
			_ = o.Close()
		}, wantLeft: 5},
		{name: "closed with nothing waiting", setup: func(t *testing.T, _ *mmsb.Bus, o *Orchestrator, _ func(int)) {
			_ = o.Close()
		}, wantLeft: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := openT(t, "", nil)
			ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}})
			if err != nil {
				t.Fatal(err)
			}
			o := newOrch(t, e, &Options{QueueSize: 16, MaxBatch: 1})
			next := 0
			submit := func(n int) {
				for range n {
					d := f64Write(ids[next], float64(10+next))
					next++
					if err := o.Submit(ctx, &d); err != nil {
						t.Fatal(err)
					}
				}
			}
			tc.setup(t, e, o, submit)
			left, err := o.Drain(ctx)
			if tc.wantLeft == 0 && (left != 0 || err != nil) {
				t.Fatalf("Drain = %d, %v; want 0, nil (nothing dropped)", left, err)
			}
			if tc.wantLeft > 0 && (left != tc.wantLeft || !errors.Is(err, mmsb.ErrClosed)) {
				t.Fatalf("Drain = %d, %v; want %d dropped, mmsb.ErrClosed", left, err, tc.wantLeft)
			}
			if tc.committed > 0 {
				for i, id := range ids[:next] {
					want := 0.0
					if i < tc.committed {
						want = float64(10 + i)
					}
					if got := readF64(t, e, id); got != want {
						t.Fatalf("page %d = %v, want %v", id, got, want)
					}
				}
			}
		})
	}
}
