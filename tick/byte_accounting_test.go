package tick

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// TestByteAccountingRandomTicks runs random ticks over random submissions
// and checks after each that QueueBytes is the cost of exactly the deltas
// accepted and not yet committed or rejected (queued, or kept by a tick),
// as an independent model counts them from the events: a leak would make
// Submit wait for ever once the bound is reached, an over-release would
// let the queue hold more than MaxQueueBytes. The ticks take every path
// that ends a delta's stay: committed; rejected by its validation (out of
// range, no such page, an epoch conflict), alone or beside valid ones;
// rejected for a size no record carries while the rest of the batch is
// halved to fit (a Replicator's message limit); kept by a tick whose
// context ended before, during or after its commit (then committed by a
// later tick). Submissions mix Submit, SubmitNoCopy (costs nothing) and
// SubmitBatch, whole or refused as a whole, and the bound refuses some
// (FailWhenFull).
func TestByteAccountingRandomTicks(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) { byteAccountingRun(t, seed) })
	}
}

func byteAccountingRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 77))
	e := openMem(t, &mmsb.Options{Replicator: limitedReplicator{max: 4096}})
	ids := mustCreate(t, e, 5, 8192)
	// Each page gets deltas of one size, so that an event's page names the
	// cost of its delta. ids[3]'s do not fit in one record (rejected for
	// their size); ids[4] takes SubmitNoCopy's deltas alone (cost 0); page
	// ghost does not exist.
	ghost := ids[4] + 1000
	sizes := map[mmsb.PageID]int{ids[0]: 16, ids[1]: 300, ids[2]: 1500, ids[3]: 5000, ids[4]: 40, ghost: 64}
	cost := func(id mmsb.PageID) uint64 {
		if id == ids[4] {
			return 0
		}
		d := delta.Delta{Page: id, Runs: []delta.Run{{Data: make([]byte, sizes[id])}}}
		return deltaCost(&d)
	}
	copied := []mmsb.PageID{ids[0], ids[0], ids[1], ids[1], ids[2], ids[3], ghost}
	mk := func(id mmsb.PageID) delta.Delta {
		d := delta.Delta{Page: id, Source: "t", Runs: []delta.Run{{Offset: uint32(rng.IntN(8)), Data: make([]byte, sizes[id])}}}
		switch rng.IntN(10) {
		case 0:
			d.Runs[0].Offset = 8192 // out of range: rejected by its validation
		case 1:
			d.CheckEpoch, d.ExpectEpoch = true, 1<<40 // an epoch conflict
		}
		return d
	}
	const bound = 9000
	o := newOrch(t, e, &Options{SkipStartupResync: true, QueueSize: 32, MaxBatch: 7, MaxQueueBytes: bound, FailWhenFull: true})
	sub, err := o.Subscribe(EventFilter{Types: []EventType{EventDeltaCommitted, EventDeltaRejected}}, 1<<12, false)
	if err != nil {
		t.Fatal(err)
	}
	var want uint64 // the model: cost of the deltas accepted and not yet committed or rejected
	waiting := 0    // how many deltas that is
	submit := func() {
		var err error
		var got []delta.Delta
		switch k := rng.IntN(10); {
		case k < 5:
			d := mk(copied[rng.IntN(len(copied))])
			err, got = o.Submit(ctx, &d), []delta.Delta{d}
		case k < 7:
			d := mk(ids[4])
			err, got = o.SubmitNoCopy(ctx, &d), []delta.Delta{d}
		default:
			// SubmitBatch checks each delta against the state first and
			// refuses the whole batch for the first bad one; an epoch
			// conflict is left to the tick.
			got = make([]delta.Delta, 1+rng.IntN(4))
			for i := range got {
				got[i] = mk(copied[rng.IntN(len(copied))])
			}
			err = o.SubmitBatch(ctx, got)
		}
		if err != nil {
			// Refused as a whole: no room now, a bad delta in a batch, or
			// a batch larger than the bound.
			if !errors.Is(err, mmsb.ErrBusy) && !errors.Is(err, mmsb.ErrInvalidDelta) && !errors.Is(err, mmsb.ErrPageNotFound) && !errors.Is(err, ErrBatchTooLarge) {
				t.Fatalf("submit: %v", err)
			}
			return // accepted nothing
		}
		for i := range got {
			want += cost(got[i].Page)
			waiting++
		}
	}
	check := func(step int, what string) {
		t.Helper()
		for len(sub.C) > 0 {
			ev := <-sub.C
			want -= cost(ev.Page)
			waiting--
		}
		if sub.Dropped() != 0 {
			t.Fatalf("step %d: the subscription dropped %d events: the model is lost", step, sub.Dropped())
		}
		if got := o.QueueBytes(); got != want || o.QueueLen() != waiting {
			t.Fatalf("step %d (%s): QueueBytes %d with %d deltas waiting (QueueLen %d), want %d: the byte bound leaked or gave back too much", step, what, got, waiting, o.QueueLen(), want)
		}
		if want > bound {
			t.Fatalf("step %d (%s): %d bytes accepted and not committed, over MaxQueueBytes %d", step, what, want, bound)
		}
	}
	for step := 0; step < 250; step++ {
		for range rng.IntN(8) {
			submit()
		}
		check(step, "after submits")
		tctx, what := ctx, "tick"
		if rng.IntN(3) == 0 {
			calls := rng.IntN(8)
			tctx, what = newCountdownCtx(calls), fmt.Sprintf("tick cancelled after %d checks", calls)
		}
		r, err := o.Tick(tctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("step %d (%s): %v", step, what, err)
		}
		if r != nil && r.Carried+r.Drained != r.Committed+r.Rejected+r.Kept {
			t.Fatalf("step %d (%s): carried %d + drained %d != committed %d + rejected %d + kept %d", step, what, r.Carried, r.Drained, r.Committed, r.Rejected, r.Kept)
		}
		check(step, what)
	}
	// Every delta committed or rejected: nothing holds the bound, and a
	// delta as large as it is accepted.
	for k := 0; o.QueueLen() > 0; k++ {
		if k == 20 {
			t.Fatalf("%d deltas still waiting after 20 ticks", o.QueueLen())
		}
		if _, err := o.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	check(-1, "all committed")
	if want != 0 || o.QueueBytes() != 0 {
		t.Fatalf("QueueBytes %d once every delta was committed or rejected, want 0", o.QueueBytes())
	}
}
