package tick

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
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

// TestCommitPanicKeepsDeltas: a panic out of the tick's commit before the
// bus's Commit (made through a test hook: the bus turns the panics of the
// code it is given, a Replicator's too, into errors) keeps the drained
// deltas, in order, for the next tick, which commits each once, and the
// tick reports it: its error wraps ErrCommitPanicked and names the panic,
// Result.Kept counts the deltas, an EventCommitFailed says it. The panic
// escaped the tick, and the deltas, accepted by Submit, vanished: never
// committed, never reported (the next tick's reset dropped them). Their
// bytes stay counted while kept, and are given back once committed (they
// were once never given back: the defect of d8ce5d4's test, which this
// one replaced).
func TestCommitPanicKeepsDeltas(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 4096)[0]
	d := delta.Delta{Page: id, Source: "t", Runs: []delta.Run{{Data: make([]byte, 1000)}}}
	cost := deltaCost(&d)
	const fit = 4
	o := newOrch(t, e, &Options{SkipStartupResync: true, MaxQueueBytes: int(fit * cost), FailWhenFull: true})
	sub, err := o.Subscribe(EventFilter{Types: []EventType{EventCommitFailed, EventDeltaRejected}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range fit {
		d.Runs[0].Data[0] = byte(i + 1)
		submitAll(t, o, d)
	}
	o.commitHook = func() { panic("commit bug") }
	var r *Result
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("the tick panicked with its commit (%v): the %d drained deltas vanished", v, fit)
			}
		}()
		r, err = o.Tick(ctx)
	}()
	o.commitHook = nil
	if !errors.Is(err, ErrCommitPanicked) || !strings.Contains(err.Error(), "commit bug") || r == nil {
		t.Fatalf("tick whose commit panicked: %v, want ErrCommitPanicked naming the panic", err)
	}
	if r.Drained != fit || r.Kept != fit || r.Committed != 0 || r.Rejected != 0 {
		t.Fatalf("result after the panic: drained %d kept %d committed %d rejected %d, want %d kept", r.Drained, r.Kept, r.Committed, r.Rejected, fit)
	}
	if ev := await(t, sub.C, "the commit-failed event"); ev.Type != EventCommitFailed || !errors.Is(ev.Err, ErrCommitPanicked) {
		t.Fatalf("event %v, want commit-failed wrapping ErrCommitPanicked", ev)
	}
	if got := o.QueueBytes(); got != fit*cost || o.QueueLen() != fit {
		t.Fatalf("QueueBytes %d, QueueLen %d after the panic, want %d, %d (the kept deltas)", got, o.QueueLen(), fit*cost, fit)
	}
	if r, err := o.Tick(ctx); err != nil || r.Carried != fit || r.Committed != fit || o.QueueBytes() != 0 {
		t.Fatalf("tick after the panic: %v, carried %d, committed %d, QueueBytes %d; want nil, %d, %d, 0", err, r.Carried, r.Committed, o.QueueBytes(), fit, fit)
	}
	if n := len(sub.C); n != 0 {
		t.Fatalf("%d more events (commit-failed or rejected), want none", n)
	}
	buf, ep, err := e.ReadPage(id, nil)
	if err != nil || ep != fit || buf[0] != fit {
		t.Fatalf("page after the retry: epoch %d, byte %d (%v); want epoch %d, byte %d (each delta once, in order)", ep, buf[0], err, fit, fit)
	}
	for i := range fit {
		if err := o.Submit(ctx, &d); err != nil {
			t.Fatalf("Submit %d of %d after the retry: %v, want room for %d deltas", i+1, fit, err, fit)
		}
	}
}

// TestCommitPanicInsideBusCommitRejects: a panic out of the bus's Commit
// itself (a test hook commits the batch, then panics: the record is logged)
// rejects the deltas that Commit was given, each with ErrCommitPanicked,
// since a retry could commit them twice, and keeps the ones it was not
// given. The batch of four is halved (the hook refuses more than two as
// too large for a record), so two are inside the Commit that panics.
func TestCommitPanicInsideBusCommitRejects(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 64)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	for i := range 4 {
		submitAll(t, o, mmsb.Write(id, uint32(i), []byte{byte(i + 1)}))
	}
	o.commitFunc = func(c context.Context, ds []delta.Delta) (mmsb.CommitInfo, error) {
		if len(ds) > 2 {
			return mmsb.CommitInfo{}, mmsb.ErrRecordTooLarge
		}
		if _, err := e.Commit(c, ds); err != nil {
			return mmsb.CommitInfo{}, err
		}
		panic("bug after the log write")
	}
	r, err := o.Tick(ctx)
	o.commitFunc = nil
	if !errors.Is(err, ErrCommitPanicked) || r == nil {
		t.Fatalf("tick whose bus Commit panicked: %v, want ErrCommitPanicked", err)
	}
	if r.Rejected != 2 || r.Kept != 2 || r.Committed != 0 || len(r.Rejections) != 2 || !errors.Is(r.Rejections[0].Err, ErrCommitPanicked) {
		t.Fatalf("result: rejected %d (%v) kept %d committed %d; want 2 rejected with ErrCommitPanicked, 2 kept", r.Rejected, r.Rejections, r.Kept, r.Committed)
	}
	if r, err := o.Tick(ctx); err != nil || r.Carried != 2 || r.Committed != 2 {
		t.Fatalf("next tick: %v, carried %d committed %d; want the 2 kept deltas committed", err, r.Carried, r.Committed)
	}
	buf, ep, err := e.ReadPage(id, nil)
	if err != nil || ep != 4 || string(buf[:4]) != "\x01\x02\x03\x04" {
		t.Fatalf("page: epoch %d, bytes %v (%v); want epoch 4 (each delta committed once), bytes 1 2 3 4", ep, buf[:4], err)
	}
}

// TestRunStopsOnCommitPanic: under Run, a tick whose commit panicked ends
// Run with its error (ErrCommitPanicked) and runs no invariant hook (a
// hook reading a bus whose lock the panic left held would hold the tick
// for ever); the deltas it kept are committed by a later Tick. Run went
// on ticking, the error seen by nobody.
func TestRunStopsOnCommitPanic(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 8)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	var hookRuns atomic.Int64
	if err := o.RegisterInvariant("count", 1, func() error { hookRuns.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	submitAll(t, o, mmsb.Write(id, 0, []byte{7}))
	var panicked atomic.Bool
	o.commitHook = func() {
		if !panicked.Swap(true) {
			panic("commit bug")
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := o.Run(rctx, time.Millisecond)
	if !errors.Is(err, ErrCommitPanicked) {
		t.Fatalf("Run after a tick whose commit panicked = %v, want ErrCommitPanicked", err)
	}
	if n := hookRuns.Load(); n != 0 {
		t.Fatalf("%d invariant hook runs by the tick whose commit panicked, want 0", n)
	}
	if r, err := o.Tick(ctx); err != nil || r.Carried != 1 || r.Committed != 1 || hookRuns.Load() != 1 {
		t.Fatalf("tick after Run: %v, carried %d, committed %d, hook runs %d; want the kept delta committed, the hook run", err, r.Carried, r.Committed, hookRuns.Load())
	}
}
