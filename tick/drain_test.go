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
