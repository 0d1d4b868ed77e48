package tick

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// TestSubmitRefusesDeltaLargerThanAnyPage: a delta with a run (or masked
// payload) larger than the largest page can never be committed, and is
// refused at Submit, SubmitNoCopy and SubmitBatch with ErrDeltaTooLarge
// naming the size and the bound, queuing nothing. Before, Submit copied
// it into the queue and only the tick rejected it: 65,536 such deltas
// of 16 MiB were admitted by the count bound, about 1 TiB.
func TestSubmitRefusesDeltaLargerThanAnyPage(t *testing.T) {
	e := openMem(t, &mmsb.Options{DisableLog: true})
	ids := mustCreate(t, e, 1, 8)
	o := newOrch(t, e, &Options{SkipStartupResync: true, MaxQueueBytes: 64 << 20})
	big := make([]byte, mmsb.MaxPageSize+1)
	huge := []delta.Delta{
		{Page: ids[0], Runs: []delta.Run{{Data: []byte("ok")}, {Data: big}}},
		{Page: ids[0], Form: delta.FormMaskedDense, Mask: []byte{1}, MaskLen: 1, Payload: big},
	}
	want := fmt.Sprintf("%d bytes, the largest page holds %d", len(big), mmsb.MaxPageSize)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrDeltaTooLarge) || !errors.Is(err, mmsb.ErrInvalidDelta) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: got %v, want ErrDeltaTooLarge (and ErrInvalidDelta) naming %q", what, err, want)
		}
		if n := o.QueueLen(); n != 0 {
			t.Fatalf("%s: %d deltas queued after the refusal", what, n)
		}
	}
	for i := range huge {
		check("Submit", o.Submit(ctx, &huge[i]))
		check("SubmitNoCopy", o.SubmitNoCopy(ctx, &huge[i]))
		good := delta.Delta{Page: ids[0], Runs: []delta.Run{{Data: []byte("good")}}}
		check("SubmitBatch", o.SubmitBatch(ctx, []delta.Delta{good, huge[i]}))
	}
	// Negative control: a run of exactly the largest page size is queued
	// (the tick rejects it here, the page being smaller, but no page size
	// bound refuses it).
	ok := delta.Delta{Page: ids[0], Runs: []delta.Run{{Data: big[:mmsb.MaxPageSize]}}}
	if err := o.Submit(ctx, &ok); err != nil {
		t.Fatalf("a run of MaxPageSize bytes: %v", err)
	}
	if n := o.QueueLen(); n != 1 {
		t.Fatalf("queue holds %d deltas, want 1", n)
	}
}

// TestIntakeByteBound: the intake queue holds at most MaxQueueBytes of
// copied deltas. At the bound Submit returns ErrBusy with FailWhenFull (or
// waits for a tick without it), as when the queue is full of deltas; a
// tick gives the drained deltas' bytes back, every accepted delta is
// committed, and a delta or batch that could never fit is refused at once.
func TestIntakeByteBound(t *testing.T) {
	const dataLen = 100
	e := openMem(t, &mmsb.Options{DisableLog: true})
	ids := mustCreate(t, e, 1, 64<<10)
	mk := func(i int) delta.Delta {
		return delta.Delta{Page: ids[0], Runs: []delta.Run{{Offset: uint32(i * dataLen), Data: bytes.Repeat([]byte{byte(i + 1)}, dataLen)}}}
	}
	d0 := mk(0)
	cost := deltaCost(&d0)
	const fit = 5 // deltas the bound holds
	bound := int(cost)*fit + int(cost)/2
	o := newOrch(t, e, &Options{SkipStartupResync: true, MaxQueueBytes: bound, FailWhenFull: true})

	var accepted int
	for i := range fit {
		d := mk(i)
		if err := o.Submit(ctx, &d); err != nil {
			t.Fatalf("delta %d of %d bytes under a bound of %d: %v", i, cost, bound, err)
		}
		accepted++
	}
	d := mk(fit)
	if err := o.Submit(ctx, &d); !errors.Is(err, mmsb.ErrBusy) {
		t.Fatalf("delta past the byte bound (%d queued bytes, bound %d): got %v, want ErrBusy", o.queue.Bytes(), bound, err)
	}
	if err := o.SubmitBatch(ctx, []delta.Delta{mk(fit)}); !errors.Is(err, mmsb.ErrBusy) {
		t.Fatalf("batch past the byte bound: got %v, want ErrBusy", err)
	}
	if n, b := o.QueueLen(), o.queue.Bytes(); n != fit || b != cost*fit {
		t.Fatalf("queue holds %d deltas of %d bytes, want %d of %d", n, b, fit, cost*fit)
	}

	// Never fits: refused at once, not ErrBusy.
	tooBig := delta.Delta{Page: ids[0], Runs: []delta.Run{{Data: make([]byte, bound+1)}}}
	if err := o.Submit(ctx, &tooBig); !errors.Is(err, ErrDeltaTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("holds at most %d", bound)) {
		t.Fatalf("delta larger than MaxQueueBytes: got %v, want ErrDeltaTooLarge naming the bound", err)
	}
	batch := make([]delta.Delta, fit+1)
	for i := range batch {
		batch[i] = mk(i)
	}
	if err := o.SubmitBatch(ctx, batch); !errors.Is(err, ErrBatchTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("holds at most %d", bound)) {
		t.Fatalf("batch larger than MaxQueueBytes: got %v, want ErrBatchTooLarge naming the bound", err)
	}

	// A tick drains the queue and gives its bytes back.
	if r, err := o.Tick(ctx); err != nil || r.Committed != fit {
		t.Fatalf("tick: %+v, %v; want %d committed", r, err, fit)
	}
	if b := o.queue.Bytes(); b != 0 {
		t.Fatalf("%d bytes still accounted to the drained queue", b)
	}
	for i := fit; i < 2*fit; i++ {
		d := mk(i)
		if err := o.Submit(ctx, &d); err != nil {
			t.Fatalf("delta %d after the tick drained the queue: %v", i, err)
		}
		accepted++
	}
	if r, err := o.Tick(ctx); err != nil || r.Committed != fit {
		t.Fatalf("second tick: %+v, %v; want %d committed", r, err, fit)
	}
	// Nothing accepted was lost: every delta's bytes are on the page.
	page, _, err := e.ReadPage(ids[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range accepted {
		if got := page[i*dataLen : (i+1)*dataLen]; !bytes.Equal(got, bytes.Repeat([]byte{byte(i + 1)}, dataLen)) {
			t.Fatalf("delta %d's bytes are not on the page", i)
		}
	}
}

// TestSubmitWaitsForBytes: without FailWhenFull a Submit past the byte
// bound waits for a tick (until ctx is done), as one past the count bound
// does, and goes through once the tick drains the queue.
func TestSubmitWaitsForBytes(t *testing.T) {
	e := openMem(t, &mmsb.Options{DisableLog: true})
	ids := mustCreate(t, e, 1, 1024)
	d := delta.Delta{Page: ids[0], Runs: []delta.Run{{Data: make([]byte, 100)}}}
	o := newOrch(t, e, &Options{SkipStartupResync: true, MaxQueueBytes: int(deltaCost(&d))})
	submitAll(t, o, d)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := o.Submit(short, &d); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit past the byte bound: got %v, want it to wait until ctx ends", err)
	}
	done := make(chan error, 1)
	go func() { done <- o.Submit(ctx, &d) }()
	deadline := time.After(10 * time.Second)
	committed := 0
	tick := func() {
		r, err := o.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		committed += r.Committed
	}
	for {
		tick()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("waiting Submit: %v", err)
			}
			tick()
			if committed != 2 || o.queue.Bytes() != 0 {
				t.Fatalf("%d deltas committed (%d bytes left queued), want both", committed, o.queue.Bytes())
			}
			return
		case <-deadline:
			t.Fatal("the waiting Submit did not go through after ticks drained the queue")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestByteBoundManyProducers: producers that wait on the byte bound and
// the count bound at once, with Submit and SubmitBatch, all get through
// as ticks drain the queue, and every accepted delta is committed once.
func TestByteBoundManyProducers(t *testing.T) {
	const producers, each, width = 4, 60, 8
	e := openMem(t, &mmsb.Options{DisableLog: true})
	ids := mustCreate(t, e, 1, producers*each*width)
	mk := func(i int) delta.Delta {
		return delta.Delta{Page: ids[0], Runs: []delta.Run{{Offset: uint32(i * width), Data: bytes.Repeat([]byte{byte(i%250 + 1)}, width)}}}
	}
	d0 := mk(0)
	o := newOrch(t, e, &Options{SkipStartupResync: true, QueueSize: 4, MaxQueueBytes: 3 * int(deltaCost(&d0))})
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	errs := make(chan error, producers)
	for p := range producers {
		go func() {
			for k := 0; k < each; k += 2 {
				i := p*each + k
				var err error
				if k%4 == 0 {
					err = o.SubmitBatch(wctx, []delta.Delta{mk(i), mk(i + 1)})
				} else {
					a, b := mk(i), mk(i+1)
					if err = o.Submit(wctx, &a); err == nil {
						err = o.Submit(wctx, &b)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("producer %d, delta %d: %w", p, i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	committed := 0
	for finished := 0; finished < producers; {
		r, err := o.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		committed += r.Committed
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
			finished++
		default:
		}
	}
	r, err := o.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	committed += r.Committed
	if committed != producers*each || o.queue.Bytes() != 0 {
		t.Fatalf("%d deltas committed (%d bytes left queued), want %d", committed, o.queue.Bytes(), producers*each)
	}
	page, _, err := e.ReadPage(ids[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range producers * each {
		if page[i*width] != byte(i%250+1) {
			t.Fatalf("delta %d's bytes are not on the page", i)
		}
	}
}

// TestIntakeIdleBuffersBounded: the copy buffers the ring's cells keep for
// reuse hold at most MaxQueueBytes once the deltas are committed. Each
// cell kept a buffer of up to 64 KiB (4 GiB over the default 65,536
// cells): here 64 cells cycled 60 KiB writes and kept 64 of them.
func TestIntakeIdleBuffersBounded(t *testing.T) {
	const size, bound = 60 << 10, 200 << 10
	e := openMem(t, &mmsb.Options{DisableLog: true, HistoryEntries: -1})
	ids := mustCreate(t, e, 1, size)
	o := newOrch(t, e, &Options{SkipStartupResync: true, QueueSize: 64, MaxQueueBytes: bound})
	d := delta.Delta{Page: ids[0], Runs: []delta.Run{{Data: make([]byte, size)}}}
	for range 3 * 64 { // one delta a tick: every cell's buffer passes through the batch
		submitAll(t, o, d)
		if r, err := o.Tick(ctx); err != nil || r.Committed != 1 {
			t.Fatalf("tick: %+v, %v", r, err)
		}
	}
	var idle uint64
	for i := range o.queue.cells {
		c := &o.queue.cells[i]
		idle += uint64(cap(c.buf)) + uint64(cap(c.runs))*runHeaderBytes
	}
	if idle > bound {
		t.Fatalf("the ring's cells keep %d bytes of buffers, over MaxQueueBytes %d", idle, bound)
	}
	// Negative control: the buffers are still reused within the bound.
	if idle < size {
		t.Fatalf("the ring's cells keep %d bytes of buffers: none reused", idle)
	}
}
