package tick

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// TestKeptDeltasWithinByteBound: deltas a tick keeps because its commit
// did not happen stay counted against MaxQueueBytes until a tick commits
// or rejects them. They were given back at drain, so over a bus that
// refuses every commit (here a closed one) each tick kept the queue's
// bytes on top of what it kept before, and Submit went on accepting a
// bound's worth more after every tick.
func TestKeptDeltasWithinByteBound(t *testing.T) {
	e := openMem(t, &mmsb.Options{DisableLog: true})
	id := mustCreate(t, e, 1, 4096)[0]
	d := delta.Delta{Page: id, Source: "t", Runs: []delta.Run{{Data: make([]byte, 1000)}}}
	cost := deltaCost(&d)
	const fit = 4
	bound := fit * cost
	o := newOrch(t, e, &Options{SkipStartupResync: true, MaxQueueBytes: int(bound), FailWhenFull: true})
	e.Close()
	var accepted uint64
	for round := 1; round <= 3; round++ {
		for {
			err := o.Submit(ctx, &d)
			if errors.Is(err, mmsb.ErrBusy) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			accepted++
		}
		r, err := o.Tick(ctx)
		if !errors.Is(err, mmsb.ErrClosed) || r.Committed+r.Rejected != 0 {
			t.Fatalf("round %d: tick over a closed bus: %v (committed %d, rejected %d), want ErrClosed and all kept", round, err, r.Committed, r.Rejected)
		}
		if held := accepted * cost; held > bound {
			t.Fatalf("round %d: the orchestrator holds %d uncommitted copies of %d bytes (%d bytes, kept by ticks over a closed bus), over MaxQueueBytes %d", round, accepted, cost, held, bound)
		}
	}
	if got := o.QueueBytes(); got != accepted*cost {
		t.Fatalf("QueueBytes %d, want %d (the %d kept copies)", got, accepted*cost, accepted)
	}
}

// TestKeptDeltasBytesGivenBackOnCommit: the bytes of kept deltas are given
// back, and a Submit waiting for them woken, by the tick that commits them.
func TestKeptDeltasBytesGivenBackOnCommit(t *testing.T) {
	e := openMem(t, &mmsb.Options{DisableLog: true})
	id := mustCreate(t, e, 1, 4096)[0]
	d := delta.Delta{Page: id, Source: "t", Runs: []delta.Run{{Data: make([]byte, 1000)}}}
	cost := deltaCost(&d)
	const fit = 4
	o := newOrch(t, e, &Options{SkipStartupResync: true, MaxQueueBytes: int(fit * cost)})
	for range fit {
		submitAll(t, o, d)
	}
	// Cancel the tick at each point in turn until one keeps the deltas
	// (its commit did not happen).
	kept := false
	for calls := 0; calls < 8 && !kept; calls++ {
		r, _ := o.Tick(newCountdownCtx(calls))
		if r != nil && r.Committed != 0 {
			t.Fatalf("a cancelled tick committed %d deltas", r.Committed)
		}
		kept = r != nil && r.Kept == fit
	}
	if !kept {
		t.Fatal("no cancelled tick kept the deltas")
	}
	if got := o.QueueBytes(); got != fit*cost {
		t.Fatalf("QueueBytes %d after a tick kept %d deltas of %d bytes, want %d", got, fit, cost, fit*cost)
	}
	// No room while they are kept: a Submit with a done context fails.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := o.Submit(done, &d); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit with the bound held by kept deltas: %v, want to wait (context.Canceled)", err)
	}
	waitCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	res := make(chan error, 1)
	go func() { res <- o.Submit(waitCtx, &d) }()
	r, err := o.Tick(ctx)
	if err != nil || r.Committed != fit {
		t.Fatalf("tick after the cancelled one: %v, committed %d, want %d", err, r.Committed, fit)
	}
	if err := <-res; err != nil {
		t.Fatalf("Submit waiting for the kept deltas' bytes: %v, want woken by the tick that committed them", err)
	}
	if got := o.QueueBytes(); got != cost {
		t.Fatalf("QueueBytes %d with one delta queued, want %d", got, cost)
	}
}
