package tick

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb"

	"github.com/mmsb-go/mmsb/delta"
)

// TestSubmitBatchInvalidDeltaQueuesNothing: a batch whose third delta is
// bad (a page that does not exist, a write past the page's end) is refused
// whole, naming that delta, and queues nothing, so no tick commits its
// first two. The negative controls: the same batch with a good third delta
// is queued whole and committed, and a delta whose expected epoch is wrong
// now is accepted (deltas queued before it may still move the epoch) and
// rejected by the tick alone.
func TestSubmitBatchInvalidDeltaQueuesNothing(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 3, 8)
	o := newOrch(t, e, &Options{QueueSize: 16, SkipStartupResync: true})
	batch := func(third delta.Delta) []delta.Delta {
		return []delta.Delta{mmsb.Write(ids[0], 0, []byte("a")), mmsb.Write(ids[1], 0, []byte("b")), third}
	}
	for _, c := range []struct {
		name  string
		third delta.Delta
		want  error
	}{
		{"missing page", mmsb.Write(999, 0, []byte("c")), mmsb.ErrPageNotFound},
		{"past the page end", mmsb.Write(ids[2], 7, []byte("cc")), mmsb.ErrInvalidDelta},
		{"empty", delta.Delta{Page: ids[2]}, mmsb.ErrInvalidDelta},
	} {
		last := e.LastLSN()
		err := o.SubmitBatch(ctx, batch(c.third))
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "delta 2") {
			t.Fatalf("%s: SubmitBatch = %v, want %v naming delta 2", c.name, err, c.want)
		}
		if n := o.QueueLen(); n != 0 {
			t.Fatalf("%s: a refused batch left %d deltas queued", c.name, n)
		}
		r, err := o.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Drained != 0 || e.LastLSN() != last {
			t.Fatalf("%s: the tick after a refused batch drained %d deltas and moved the log from %d to %d", c.name, r.Drained, last, e.LastLSN())
		}
	}

	// Negative controls.
	stale := mmsb.Write(ids[2], 0, []byte("c"))
	stale.CheckEpoch, stale.ExpectEpoch = true, 7
	for _, c := range []struct {
		third                   delta.Delta
		committed, rejectedWant int
	}{{mmsb.Write(ids[2], 0, []byte("c")), 3, 0}, {stale, 2, 1}} {
		if err := o.SubmitBatch(ctx, batch(c.third)); err != nil {
			t.Fatalf("a good batch: %v", err)
		}
		if n := o.QueueLen(); n != 3 {
			t.Fatalf("a good batch queued %d deltas, want 3", n)
		}
		r, err := o.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Committed != c.committed || r.Rejected != c.rejectedWant {
			t.Fatalf("tick committed %d and rejected %d, want %d and %d", r.Committed, r.Rejected, c.committed, c.rejectedWant)
		}
	}
}

// TestSubmitBatchWaitsForRoomForAll: with room for only part of a batch,
// SubmitBatch takes none of it: with FailWhenFull it returns ErrBusy and the
// queue is as before; otherwise it waits, still taking nothing, until a
// tick makes room for the whole batch, which then follows the queued
// deltas in order. The negative control: a batch that fits is queued.
func TestSubmitBatchWaitsForRoomForAll(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 5, 8)
	writes := func(from, n int) []delta.Delta {
		ds := make([]delta.Delta, n)
		for i := range ds {
			ds[i] = mmsb.Write(ids[from+i], 0, []byte{byte(from + i + 1)})
		}
		return ds
	}

	busy := newOrch(t, e, &Options{QueueSize: 4, FailWhenFull: true, SkipStartupResync: true})
	if err := busy.SubmitBatch(ctx, writes(0, 3)); err != nil {
		t.Fatal(err)
	}
	if err := busy.SubmitBatch(ctx, writes(3, 2)); !errors.Is(err, mmsb.ErrBusy) {
		t.Fatalf("a batch of 2 with room for 1: %v, want ErrBusy", err)
	}
	if n := busy.QueueLen(); n != 3 {
		t.Fatalf("a batch refused with ErrBusy left the queue at %d deltas, want 3", n)
	}
	if err := busy.SubmitBatch(ctx, writes(3, 1)); err != nil {
		t.Fatalf("a batch of 1 with room for 1: %v", err)
	}
	if n := busy.QueueLen(); n != 4 {
		t.Fatalf("queue at %d deltas, want 4", n)
	}
	busy.Close()

	o := newOrch(t, e, &Options{QueueSize: 4, SkipStartupResync: true})
	if err := o.SubmitBatch(ctx, writes(0, 3)); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	var once sync.Once
	testHookBeforeWait = func() { once.Do(func() { close(waiting) }) }
	done := make(chan error, 1)
	go func() { done <- o.SubmitBatch(ctx, writes(3, 2)) }()
	<-waiting
	if n := o.QueueLen(); n != 3 {
		t.Fatalf("a batch waiting for room took part of it: queue at %d deltas, want 3", n)
	}
	r, err := o.Tick(ctx)
	if err != nil || r.Drained != 3 {
		t.Fatalf("tick drained %d deltas (%v), want 3", r.Drained, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the waiting batch: %v", err)
	}
	testHookBeforeWait = nil
	r, err = o.Tick(ctx)
	if err != nil || r.Committed != 2 {
		t.Fatalf("tick committed %d deltas (%v), want the batch's 2", r.Committed, err)
	}
	for i, id := range ids {
		b, _, err := e.ReadPage(id, nil)
		if err != nil || b[0] != byte(i+1) {
			t.Fatalf("page %d holds %v (%v), want %d", id, b[0], err, i+1)
		}
	}
}

// TestSubmitBatchWaitEndsTakingNothing: a batch waiting for room that its
// context ends, or the orchestrator's Close, returns that error and leaves
// nothing of itself queued.
func TestSubmitBatchWaitEndsTakingNothing(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 1, 8)
	two := []delta.Delta{mmsb.Write(ids[0], 0, []byte{1}), mmsb.Write(ids[0], 1, []byte{2})}
	for _, how := range []string{"cancel", "close"} {
		o := newOrch(t, e, &Options{QueueSize: 2, SkipStartupResync: true})
		d := mmsb.Write(ids[0], 0, []byte{9})
		if err := o.Submit(ctx, &d); err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		testHookBeforeWait = func() {
			if how == "cancel" {
				cancel()
			} else {
				o.Close()
			}
		}
		err := o.SubmitBatch(sctx, two)
		testHookBeforeWait = nil
		cancel()
		want := context.Canceled
		if how == "close" {
			want = mmsb.ErrClosed
		}
		if !errors.Is(err, want) {
			t.Fatalf("%s: SubmitBatch = %v, want %v", how, err, want)
		}
		if how == "cancel" {
			if n := o.queue.Len(); n != 1 {
				t.Fatalf("%s: the queue holds %d deltas, want the 1 queued before", how, n)
			}
		}
	}
}

// TestSubmitBatchOverCapacity: a batch larger than the queue can ever hold
// is refused at once (it would wait for ever) with ErrBatchTooLarge (also
// mmsb.ErrInvalidOption) naming both sizes; the capacity is QueueSize rounded up to a power of two. The
// negative control: a batch of exactly the capacity is queued.
func TestSubmitBatchOverCapacity(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 1, 8)
	o := newOrch(t, e, &Options{QueueSize: 3, SkipStartupResync: true})
	ds := make([]delta.Delta, 5)
	for i := range ds {
		ds[i] = mmsb.Write(ids[0], uint32(i), []byte{1})
	}
	err := o.SubmitBatch(ctx, ds)
	if !errors.Is(err, ErrBatchTooLarge) || !errors.Is(err, mmsb.ErrInvalidOption) || !strings.Contains(err.Error(), "5 deltas") || !strings.Contains(err.Error(), "at most 4") {
		t.Fatalf("a batch of 5 into a queue of 4: %v, want ErrBatchTooLarge naming 5 and 4", err)
	}
	if n := o.QueueLen(); n != 0 {
		t.Fatalf("a refused batch left %d deltas queued", n)
	}
	if err := o.SubmitBatch(ctx, ds[:4]); err != nil {
		t.Fatalf("a batch of 4 into an empty queue of 4: %v", err)
	}
	if n := o.QueueLen(); n != 4 {
		t.Fatalf("queue at %d deltas, want 4", n)
	}
	if err := o.SubmitBatch(ctx, nil); err != nil {
		t.Fatalf("an empty batch: %v", err)
	}
	o.Close()
	if err := o.SubmitBatch(ctx, ds[:1]); !errors.Is(err, mmsb.ErrClosed) {
		t.Fatalf("SubmitBatch after Close: %v, want ErrClosed", err)
	}
}

// TestSubmitBatchesStayContiguous: batches submitted from many goroutines
// at once, through a queue smaller than their total (so submitters wait
// for room), come out of the intake queue each in one piece and in its own
// order, and every goroutine's batches in the order it submitted them.
// The check does not depend on how the goroutines interleave.
func TestSubmitBatchesStayContiguous(t *testing.T) {
	const goroutines, batches, maxSize = 8, 40, 7
	e := openMem(t, nil)
	ids := mustCreate(t, e, 1, 64)
	o := newOrch(t, e, &Options{QueueSize: 16, SkipStartupResync: true})
	size := func(b int) int { return 1 + b%maxSize }
	total := 0
	for b := range batches {
		total += goroutines * size(b)
	}
	errs := make(chan error, goroutines)
	for g := range goroutines {
		go func() {
			for b := range batches {
				ds := make([]delta.Delta, size(b))
				for i := range ds {
					ds[i] = mmsb.Write(ids[0], 0, []byte{1})
					ds[i].Source = fmt.Sprintf("%d/%d/%d", g, b, i)
				}
				if err := o.SubmitBatch(ctx, ds); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	// Drain as a tick does (this goroutine is the only consumer), keeping
	// the sources in intake order.
	var order []string
	var b intakeBatch
	for finished := 0; finished < goroutines || o.queue.Len() > 0; {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
			finished++
		default:
		}
		b.reset()
		if o.queue.drain(&b, 1<<20) == 0 {
			runtime.Gosched()
		}
		for i := range b.ds {
			order = append(order, b.ds[i].Source)
		}
	}
	if len(order) != total {
		t.Fatalf("%d deltas came out of the queue, want %d", len(order), total)
	}
	next := make([]int, goroutines) // each goroutine's next batch
	for k := 0; k < len(order); {
		var g, bn, i int
		if _, err := fmt.Sscanf(order[k], "%d/%d/%d", &g, &bn, &i); err != nil {
			t.Fatal(err)
		}
		if bn != next[g] || i != 0 {
			t.Fatalf("intake position %d holds %s, want goroutine %d's batch %d starting", k, order[k], g, next[g])
		}
		for i := range size(bn) {
			if want := fmt.Sprintf("%d/%d/%d", g, bn, i); k+i >= len(order) || order[k+i] != want {
				t.Fatalf("batch %d/%d cut: intake position %d holds %v, want %s", g, bn, k+i, order[min(k+i, len(order)-1)], want)
			}
		}
		k += size(bn)
		next[g]++
	}
	for g, n := range next {
		if n != batches {
			t.Fatalf("goroutine %d: %d batches came out, want %d", g, n, batches)
		}
	}
}
