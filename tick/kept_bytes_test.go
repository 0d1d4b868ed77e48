package tick

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
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
	// The tick must find the Submit asleep: one that had not looked yet
	// got through whether or not the tick woke it.
	waitSubmitParked(t, res)
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

// waitSubmitParked waits (up to 20 s) until a goroutine sleeps in the
// intake queue's push, waiting for room; res is where that Submit reports,
// should it return first.
func waitSubmitParked(t *testing.T, res <-chan error) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(20 * time.Second); ; {
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "(*intakeQueue).push") {
				return
			}
		}
		select {
		case err := <-res:
			t.Fatalf("Submit returned %v before the tick that gives the bytes back", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the Submit never waited for room")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSubmitBatchBusyNamesBytes: a SubmitBatch refused with ErrBusy
// (FailWhenFull) names the byte bound and what holds it. With the bound
// held by deltas a tick kept, the ring is empty, and the message said only
// "(0 of 64 queued)": no room, for no reason it named.
func TestSubmitBatchBusyNamesBytes(t *testing.T) {
	e := openMem(t, &mmsb.Options{DisableLog: true})
	id := mustCreate(t, e, 1, 4096)[0]
	d := delta.Delta{Page: id, Source: "t", Runs: []delta.Run{{Data: make([]byte, 1000)}}}
	cost := deltaCost(&d)
	const fit = 4
	o := newOrch(t, e, &Options{SkipStartupResync: true, QueueSize: 64, MaxQueueBytes: int(fit * cost), FailWhenFull: true})
	for range fit {
		submitAll(t, o, d)
	}
	// A tick whose context ends before its commit keeps the deltas.
	kept := false
	for calls := 0; calls < 8 && !kept; calls++ {
		r, _ := o.Tick(newCountdownCtx(calls))
		kept = r != nil && r.Kept == fit
	}
	if !kept || o.queue.Len() != 0 {
		t.Fatalf("no cancelled tick kept the %d deltas (%d still in the ring)", fit, o.queue.Len())
	}
	err := o.SubmitBatch(ctx, []delta.Delta{d})
	if !errors.Is(err, mmsb.ErrBusy) {
		t.Fatalf("SubmitBatch with the byte bound held by kept deltas: %v, want ErrBusy", err)
	}
	for _, want := range []string{fmt.Sprintf("%d bytes)", cost), fmt.Sprintf("%d kept", fit), fmt.Sprintf("%d of %d bytes held", fit*cost, fit*cost), "MaxQueueBytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("SubmitBatch refused with %q: it does not say %q (what holds the byte bound)", err, want)
		}
	}
}

// TestCommitPanicGivesBytesBack: a panic out of the tick's commit (made
// through a test hook: the bus turns the panics of the code it is given,
// a Replicator's too, into errors) that the caller recovers gives back the
// bytes of the deltas the tick drained. They were
// given back only after a commit that returned, so each such panic kept
// them reserved for ever: here the first one left the whole bound held,
// and every later Submit was refused (or waited for ever).
func TestCommitPanicGivesBytesBack(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 4096)[0]
	d := delta.Delta{Page: id, Source: "t", Runs: []delta.Run{{Data: make([]byte, 1000)}}}
	cost := deltaCost(&d)
	const fit = 4
	o := newOrch(t, e, &Options{SkipStartupResync: true, MaxQueueBytes: int(fit * cost), FailWhenFull: true})
	for range fit {
		submitAll(t, o, d)
	}
	o.commitHook = func() { panic("commit bug") }
	func() {
		defer func() {
			if v := recover(); v == nil {
				t.Fatal("the tick did not panic with its commit")
			}
		}()
		o.Tick(ctx)
	}()
	o.commitHook = nil
	if got := o.QueueBytes(); got != 0 {
		t.Fatalf("QueueBytes %d after a tick whose commit panicked, want 0: the drained deltas' bytes stay reserved", got)
	}
	for i := range fit {
		if err := o.Submit(ctx, &d); err != nil {
			t.Fatalf("Submit %d of %d after the panic: %v, want room for %d deltas", i+1, fit, err, fit)
		}
	}
	if r, err := o.Tick(ctx); err != nil || r.Committed != fit || o.QueueBytes() != 0 {
		t.Fatalf("tick after the panic: %v, committed %d, QueueBytes %d; want nil, %d, 0", err, r.Committed, o.QueueBytes(), fit)
	}
}
