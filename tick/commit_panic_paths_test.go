package tick

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// TestCommitPanicOnEveryPath: a panic out of the tick's commit, wherever
// in it: before the first Commit, in the validation after a refused
// Commit (the first or the second), inside a later Commit (after a
// validation, after halvings for the record size; once the batch was
// logged, or before). Whatever the path, every delta of the tick is
// counted once (committed, rejected or kept: never both rejected and
// kept), those inside the Commit that panicked are rejected with
// ErrCommitPanicked, the others kept in order with their bytes still
// counted, one event per rejection and one EventCommitFailed are
// published, no wave or invariant hook runs, and the next Tick commits
// each kept delta once and gives every byte back. Four deltas, writing
// bytes 1 to 4 at offsets 0 to 3 of one page; in the cases with a bad
// one, the second goes to a page that does not exist.
func TestCommitPanicOnEveryPath(t *testing.T) {
	type hooks struct {
		commit   func(e *mmsb.Bus, call int, ds []delta.Delta) (mmsb.CommitInfo, error)
		validate func(e *mmsb.Bus, call int, ds []delta.Delta, reject func(int, error)) (int, error)
		before   bool // the commit hook panics, before the first Commit
	}
	logThenPanic := func(e *mmsb.Bus, ds []delta.Delta) (mmsb.CommitInfo, error) {
		if _, err := e.Commit(ctx, ds); err != nil {
			return mmsb.CommitInfo{}, err
		}
		panic(fmt.Sprintf("bug after logging %d deltas", len(ds)))
	}
	tests := []struct {
		name string
		bad  bool // the second delta names a missing page
		h    hooks
		// The panicking tick: rejected with ErrCommitPanicked, and in all
		// (validation included), and kept.
		panicRejected, rejected, kept int
		// The next tick: committed and rejected; the page's epoch at the
		// end (one a committed delta).
		nextCommitted, nextRejected int
		epoch                       mmsb.Epoch
	}{
		{name: "hook before the first Commit", h: hooks{before: true},
			kept: 4, nextCommitted: 4, epoch: 4},
		{name: "ValidateBatch after a refused Commit", bad: true, h: hooks{
			validate: func(e *mmsb.Bus, call int, ds []delta.Delta, reject func(int, error)) (int, error) {
				_, _ = e.ValidateBatch(ds, reject) // it reports the bad delta, then:
				panic("validation bug")
			}},
			kept: 4, nextCommitted: 3, nextRejected: 1, epoch: 3},
		{name: "second Commit after validation, logged", bad: true, h: hooks{
			commit: func(e *mmsb.Bus, call int, ds []delta.Delta) (mmsb.CommitInfo, error) {
				if call == 1 {
					return e.Commit(ctx, ds) // refused: the bad delta
				}
				return logThenPanic(e, ds)
			}},
			panicRejected: 3, rejected: 4, epoch: 3},
		{name: "second Commit after validation, not logged", bad: true, h: hooks{
			commit: func(e *mmsb.Bus, call int, ds []delta.Delta) (mmsb.CommitInfo, error) {
				if call == 1 {
					return e.Commit(ctx, ds)
				}
				panic("bug before logging")
			}},
			panicRejected: 3, rejected: 4, epoch: 0},
		{name: "third Commit after two halvings", h: hooks{
			commit: func(e *mmsb.Bus, call int, ds []delta.Delta) (mmsb.CommitInfo, error) {
				if len(ds) > 1 {
					return mmsb.CommitInfo{}, fmt.Errorf("%w: %d deltas", mmsb.ErrRecordTooLarge, len(ds))
				}
				return logThenPanic(e, ds)
			}},
			panicRejected: 1, rejected: 1, kept: 3, nextCommitted: 3, epoch: 4},
		{name: "ValidateBatch of the second validation", bad: true, h: hooks{
			commit: func(e *mmsb.Bus, call int, ds []delta.Delta) (mmsb.CommitInfo, error) {
				if call == 1 {
					return e.Commit(ctx, ds)
				}
				return mmsb.CommitInfo{}, fmt.Errorf("%w: another writer", mmsb.ErrConflict)
			},
			validate: func(e *mmsb.Bus, call int, ds []delta.Delta, reject func(int, error)) (int, error) {
				if call == 1 {
					return e.ValidateBatch(ds, reject)
				}
				panic("validation bug")
			}},
			rejected: 1, kept: 3, nextCommitted: 3, epoch: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := openMem(t, nil)
			id := mustCreate(t, e, 1, 64)[0]
			o := newOrch(t, e, &Options{SkipStartupResync: true})
			sub, err := o.Subscribe(EventFilter{Types: []EventType{EventCommitFailed, EventDeltaRejected}}, 64, false)
			if err != nil {
				t.Fatal(err)
			}
			hookRuns := 0
			if err := o.RegisterInvariant("count", 1, func() error { hookRuns++; return nil }); err != nil {
				t.Fatal(err)
			}
			var cost uint64
			for i := range 4 {
				d := mmsb.Write(id, uint32(i), []byte{byte(i + 1)})
				if tc.bad && i == 1 {
					d.Page = id + 100
				}
				cost = deltaCost(&d) // the same for all four
				submitAll(t, o, d)
			}
			commits, validations := 0, 0
			if tc.h.commit != nil {
				o.commitFunc = func(_ context.Context, ds []delta.Delta) (mmsb.CommitInfo, error) {
					commits++
					return tc.h.commit(e, commits, ds)
				}
			}
			if tc.h.validate != nil {
				o.validateFunc = func(ds []delta.Delta, reject func(int, error)) (int, error) {
					validations++
					return tc.h.validate(e, validations, ds, reject)
				}
			}
			if tc.h.before {
				o.commitHook = func() { panic("commit bug") }
			}
			var r *Result
			func() {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("the tick panicked: %v", v)
					}
				}()
				r, err = o.Tick(ctx)
			}()
			o.commitFunc, o.validateFunc, o.commitHook = nil, nil, nil
			if !errors.Is(err, ErrCommitPanicked) || r == nil {
				t.Fatalf("tick: %v, want ErrCommitPanicked", err)
			}
			if r.Carried+r.Drained != r.Committed+r.Rejected+r.Kept || r.Drained != 4 {
				t.Fatalf("carried %d + drained %d != committed %d + rejected %d + kept %d", r.Carried, r.Drained, r.Committed, r.Rejected, r.Kept)
			}
			panicRejected := 0
			for _, rj := range r.Rejections {
				if errors.Is(rj.Err, ErrCommitPanicked) {
					panicRejected++
				}
			}
			if r.Committed != 0 || r.Rejected != tc.rejected || panicRejected != tc.panicRejected || r.Kept != tc.kept {
				t.Fatalf("committed %d, rejected %d (%d with ErrCommitPanicked: %v), kept %d; want 0, %d (%d), %d",
					r.Committed, r.Rejected, panicRejected, r.Rejections, r.Kept, tc.rejected, tc.panicRejected, tc.kept)
			}
			if r.Propagated || r.InvariantsRun != 0 || hookRuns != 0 {
				t.Fatalf("after the panic: propagated %v, %d invariant hooks run; want none", r.Propagated, hookRuns)
			}
			if o.QueueLen() != tc.kept || o.QueueBytes() != uint64(tc.kept)*cost {
				t.Fatalf("QueueLen %d, QueueBytes %d; want %d and %d (the kept deltas)", o.QueueLen(), o.QueueBytes(), tc.kept, uint64(tc.kept)*cost)
			}
			failed, rejEvents := 0, 0
			for len(sub.C) > 0 {
				ev := <-sub.C
				switch {
				case ev.Tick != 1:
					t.Fatalf("event %v of tick %d, want 1", ev, ev.Tick)
				case ev.Type == EventCommitFailed && errors.Is(ev.Err, ErrCommitPanicked):
					failed++
				case ev.Type == EventDeltaRejected:
					rejEvents++
				default:
					t.Fatalf("event %v", ev)
				}
			}
			if failed != 1 || rejEvents != tc.rejected {
				t.Fatalf("%d commit-failed and %d rejection events, want 1 and %d", failed, rejEvents, tc.rejected)
			}

			r, err = o.Tick(ctx)
			if err != nil || r.Carried != tc.kept || r.Committed != tc.nextCommitted || r.Rejected != tc.nextRejected || r.Kept != 0 {
				t.Fatalf("next tick: %v, carried %d, committed %d, rejected %d, kept %d; want nil, %d, %d, %d, 0",
					err, r.Carried, r.Committed, r.Rejected, r.Kept, tc.kept, tc.nextCommitted, tc.nextRejected)
			}
			if hookRuns != 1 || o.QueueLen() != 0 || o.QueueBytes() != 0 {
				t.Fatalf("after the next tick: %d hook runs, QueueLen %d, QueueBytes %d; want 1, 0, 0", hookRuns, o.QueueLen(), o.QueueBytes())
			}
			buf, ep, err := e.ReadPage(id, nil)
			if err != nil || ep != tc.epoch {
				t.Fatalf("page epoch %d (%v), want %d: each delta committed at most once", ep, err, tc.epoch)
			}
			if tc.epoch > 0 {
				for i := range 4 {
					if want := byte(i + 1); (!tc.bad || i != 1) && buf[i] != want {
						t.Fatalf("page bytes %v, want delta %d's %d at %d", buf[:4], i, want, i)
					}
				}
			}
		})
	}
}

// TestDrainStopsOnCommitPanic: Drain stops at a tick whose commit
// panicked, returning its error (ErrCommitPanicked) and the deltas still
// waiting, as Run does. It ticked on: the next tick committed the deltas
// the panic kept, and Drain returned 0, nil, the two deltas the panic
// rejected (inside the bus's Commit) reported to nobody who asked.
func TestDrainStopsOnCommitPanic(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 64)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	for i := range 4 {
		submitAll(t, o, mmsb.Write(id, uint32(i), []byte{byte(i + 1)}))
	}
	panicked := false
	o.commitFunc = func(c context.Context, ds []delta.Delta) (mmsb.CommitInfo, error) {
		if len(ds) > 2 {
			return mmsb.CommitInfo{}, mmsb.ErrRecordTooLarge
		}
		if !panicked {
			panicked = true
			panic("commit bug")
		}
		return e.Commit(c, ds)
	}
	left, err := o.Drain(ctx)
	if !errors.Is(err, ErrCommitPanicked) || left != 2 {
		t.Fatalf("Drain = %d, %v; want 2 waiting (kept by the tick that panicked) and ErrCommitPanicked", left, err)
	}
	if left, err := o.Drain(ctx); left != 0 || err != nil {
		t.Fatalf("Drain again = %d, %v; want 0, nil", left, err)
	}
}

// TestRejectionsOfPanickedTickKeepTheirTick: the rejections of a tick out
// of whose wave a panic escapes (a defect of the bus: it turns the panics
// of recompute functions into errors) are published by the next tick
// under their own tick's number. They were left to it and published as
// its own.
func TestRejectionsOfPanickedTickKeepTheirTick(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 64)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	sub, err := o.Subscribe(EventFilter{Types: []EventType{EventDeltaRejected}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	submitAll(t, o, mmsb.Write(id, 0, []byte{1}), mmsb.Write(id+10, 0, []byte{1}))
	o.propagateHook = func() { panic("wave bug") }
	func() {
		defer func() {
			if v := recover(); v == nil {
				t.Fatal("the tick did not panic with its wave")
			}
		}()
		_, _ = o.Tick(ctx)
	}()
	o.propagateHook = nil
	submitAll(t, o, mmsb.Write(id+20, 0, []byte{1}))
	if r, err := o.Tick(ctx); err != nil || r.Tick != 2 || r.Rejected != 1 {
		t.Fatalf("next tick: %v, tick %d, rejected %d; want nil, 2, 1", err, r.Tick, r.Rejected)
	}
	want := []struct {
		tick uint64
		page mmsb.PageID
	}{{1, id + 10}, {2, id + 20}}
	for i, w := range want {
		ev := await(t, sub.C, "a rejection event")
		if ev.Tick != w.tick || ev.Page != w.page {
			t.Fatalf("rejection event %d: tick %d, page %d; want tick %d, page %d", i, ev.Tick, ev.Page, w.tick, w.page)
		}
	}
	if n := len(sub.C); n != 0 {
		t.Fatalf("%d more rejection events", n)
	}
}

// rejectionTicks runs two ticks, each with a valid delta and one to a
// page that does not exist (rejected: id+10, then id+20), the first
// ending in the panic that arm makes.
func rejectionTicks(t *testing.T, o *Orchestrator, id mmsb.PageID, arm, disarm func()) {
	t.Helper()
	submitAll(t, o, mmsb.Write(id, 0, []byte{1}), mmsb.Write(id+10, 0, []byte{1}))
	arm()
	func() {
		defer func() {
			if v := recover(); v == nil {
				t.Fatal("the tick did not panic")
			}
		}()
		_, _ = o.Tick(ctx)
	}()
	disarm()
	submitAll(t, o, mmsb.Write(id, 0, []byte{2}), mmsb.Write(id+20, 0, []byte{1}))
	if r, err := o.Tick(ctx); err != nil || r.Tick != 2 || r.Rejected != 1 {
		t.Fatalf("next tick: %v, tick %d, rejected %d; want nil, 2, 1", err, r.Tick, r.Rejected)
	}
}

// rejectedPages reads the rejection events sub holds.
func rejectedPages(sub *Subscription) []mmsb.PageID {
	var got []mmsb.PageID
	for len(sub.C) > 0 {
		ev := <-sub.C
		got = append(got, ev.Page)
	}
	return got
}

// TestPanickedBuildDeliversOnce: a panic out of a tick's event building
// (a defect) leaves its rejections to the next tick, which publishes each
// once, under its own tick's number. The events built before the panic
// stayed in the list and the next tick published them and then the
// rejections again: the first tick's rejection twice.
func TestPanickedBuildDeliversOnce(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 64)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	sub, err := o.Subscribe(EventFilter{Types: []EventType{EventDeltaRejected}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	rejectionTicks(t, o, id, func() { o.buildHook = func() { panic("event bug") } }, func() { o.buildHook = nil })
	if got := rejectedPages(sub); !slices.Equal(got, []mmsb.PageID{id + 10, id + 20}) {
		t.Fatalf("rejection events for pages %v; want [%d %d], once each", got, id+10, id+20)
	}
}

// TestPanickedPublishDeliversOnce: a panic out of a tick's publish (a
// defect), after one subscription had received the tick's events, does
// not make the next tick publish them again: the first subscription hears
// of each rejection once, the second misses the panicked tick's. The next
// tick published the whole list again, and the rejections a third time.
func TestPanickedPublishDeliversOnce(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 64)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	var subs [2]*Subscription
	for i := range subs {
		s, err := o.Subscribe(EventFilter{Types: []EventType{EventDeltaRejected}}, 8, false)
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = s
	}
	rejectionTicks(t, o, id, func() {
		o.deliverHook = func(i int) {
			if i == 1 {
				panic("delivery bug")
			}
		}
	}, func() { o.deliverHook = nil })
	if got := rejectedPages(subs[0]); !slices.Equal(got, []mmsb.PageID{id + 10, id + 20}) {
		t.Fatalf("first subscription: rejection events for pages %v; want [%d %d], once each", got, id+10, id+20)
	}
	if got := rejectedPages(subs[1]); !slices.Equal(got, []mmsb.PageID{id + 20}) {
		t.Fatalf("second subscription: rejection events for pages %v; want [%d]", got, id+20)
	}
}
