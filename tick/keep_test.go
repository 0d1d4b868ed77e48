package tick

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/semiring"
)

// countdownCtx is a context that cancels itself once Err and Done have been
// called more than `left` times in all: it cancels a tick at a chosen point
// of its work (before draining, between draining and committing, in the
// commit) without any timing, and it ends a Run loop (which calls Done once
// per iteration) after a bounded number of iterations whatever a tick does.
type countdownCtx struct {
	context.Context
	cancel context.CancelFunc
	left   atomic.Int32
}

func (c *countdownCtx) Done() <-chan struct{} {
	if c.left.Add(-1) < 0 {
		c.cancel()
	}
	return c.Context.Done()
}

func newCountdownCtx(calls int) *countdownCtx {
	c, cancel := context.WithCancel(context.Background())
	cc := &countdownCtx{Context: c, cancel: cancel}
	cc.left.Store(int32(calls))
	return cc
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) < 0 {
		c.cancel()
	}
	return c.Context.Err()
}

// keepWorkload submits six deltas: five valid ones, each writing its own
// f64 element of page id, and one out of range.
func keepWorkload(t *testing.T, o *Orchestrator, id base.PageID) {
	t.Helper()
	for i := 0; i < 5; i++ {
		d := delta.Delta{Page: id, Source: "test", Runs: []delta.Run{{Offset: uint32(8 * i), Data: f64Page(float64(i + 1))}}}
		submitAll(t, o, d)
	}
	submitAll(t, o, delta.Delta{Page: id, Source: "bad", Runs: []delta.Run{{Offset: 1 << 20, Data: []byte{1}}}})
}

// checkKeepWorkload checks that every valid delta of keepWorkload was
// committed exactly once and in order, and the bad one rejected once.
func checkKeepWorkload(t *testing.T, e *mmsb.Bus, id base.PageID, committed, rejected uint64) {
	t.Helper()
	b, epoch, err := e.ReadPage(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if committed != 5 || rejected != 1 || epoch != 5 {
		t.Fatalf("committed %d, rejected %d, page epoch %d; want 5, 1, 5 (an accepted delta was lost or applied twice)", committed, rejected, epoch)
	}
	for i := 0; i < 5; i++ {
		if v := semiring.F64At(b, i); v != float64(i+1) {
			t.Fatalf("element %d = %v, want %d", i, v, i+1)
		}
	}
}

// TestCancelledTickKeepsDeltas pins issue 7 item 2: a tick whose context is
// cancelled (before it drains, between drain and commit, or in the commit)
// no longer rejects the deltas Submit accepted with the context's error: it
// keeps them, in order, and the next tick commits each exactly once. The
// old code drained first and then rejected the whole batch.
func TestCancelledTickKeepsDeltas(t *testing.T) {
	for calls := 0; calls < 6; calls++ {
		t.Run(fmt.Sprintf("cancel-after-%d-checks", calls), func(t *testing.T) {
			e := openMem(t, nil)
			id := mustCreate(t, e, 1, 64)[0]
			o := newOrch(t, e, &Options{SkipStartupResync: true})
			keepWorkload(t, o, id)
			var committed, rejected uint64
			count := func(r *Result) {
				if r.Carried+r.Drained != r.Committed+r.Rejected+r.Kept {
					t.Fatalf("tick %d: carried %d + drained %d != committed %d + rejected %d + kept %d",
						r.Tick, r.Carried, r.Drained, r.Committed, r.Rejected, r.Kept)
				}
				committed += uint64(r.Committed)
				rejected += uint64(r.Rejected)
				for _, rj := range r.Rejections {
					if rj.Source != "bad" || !errors.Is(rj.Err, delta.ErrOutOfRange) {
						t.Fatalf("delta from %q rejected for %v, not for a reason of its own", rj.Source, rj.Err)
					}
				}
			}
			r, err := o.Tick(newCountdownCtx(calls))
			if r != nil {
				count(r)
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled tick: %v", err)
			}
			if err != nil && o.QueueLen() == 0 {
				t.Fatal("a cancelled tick left nothing in line")
			}
			for k := 0; k < 3 && o.QueueLen() > 0; k++ {
				r, err := o.Tick(ctx)
				if err != nil {
					t.Fatal(err)
				}
				count(r)
			}
			checkKeepWorkload(t, e, id, committed, rejected)
		})
	}
}

// TestRunStoppedByCancelKeepsDeltas: Run stopping because its context was
// cancelled in the middle of a tick leaves the submitted deltas in line for
// a later Tick, which commits each exactly once.
func TestRunStoppedByCancelKeepsDeltas(t *testing.T) {
	for calls := 0; calls < 5; calls++ {
		t.Run(fmt.Sprintf("cancel-after-%d-checks", calls), func(t *testing.T) {
			e := openMem(t, nil)
			id := mustCreate(t, e, 1, 64)[0]
			o := newOrch(t, e, &Options{SkipStartupResync: true})
			keepWorkload(t, o, id)
			if err := o.Run(newCountdownCtx(calls), time.Millisecond); err != nil {
				t.Fatalf("Run stopped by its context returned %v", err)
			}
			for k := 0; k < 3 && o.QueueLen() > 0; k++ {
				if _, err := o.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
			m := o.Metrics()
			checkKeepWorkload(t, e, id, m.Committed, m.Rejected)
		})
	}
}

// TestClosedBusKeepsDeltas: a tick over a closed bus reports the error and
// rejects nothing (the deltas were not refused for a reason of their own).
func TestClosedBusKeepsDeltas(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 64)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	keepWorkload(t, o, id)
	e.Close()
	r, err := o.Tick(ctx)
	if !errors.Is(err, mmsb.ErrClosed) {
		t.Fatalf("tick over a closed bus: %v, want ErrClosed", err)
	}
	if r.Rejected != 0 || r.Kept != 6 || o.QueueLen() != 6 {
		t.Fatalf("rejected %d, kept %d, queue %d; want 0, 6, 6", r.Rejected, r.Kept, o.QueueLen())
	}
}
