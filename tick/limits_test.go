package tick

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// TestSubmitNilDelta: a nil delta is refused by Submit and SubmitNoCopy with
// ErrInvalidDelta (it used to panic copying it), and the orchestrator keeps
// working.
func TestSubmitNilDelta(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 8)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	for name, submit := range map[string]func(context.Context, *delta.Delta) error{
		"Submit":       o.Submit,
		"SubmitNoCopy": o.SubmitNoCopy,
	} {
		if err := submit(ctx, nil); !errors.Is(err, mmsb.ErrInvalidDelta) {
			t.Fatalf("%s(nil) = %v, want mmsb.ErrInvalidDelta", name, err)
		}
	}
	submitAll(t, o, f64Write(id, 1))
	r, err := o.Tick(ctx)
	if err != nil || r.Drained != 1 || r.Committed != 1 {
		t.Fatalf("tick after nil submits: %+v, %v; want 1 drained and committed", r, err)
	}
}

// TestSizeOptionLimits: sizes that are allocated up front are bounded; a
// huge one is refused with ErrInvalidOption instead of panicking in make,
// running out of memory, or (QueueSize past 2^62) looping for ever while
// rounding up to a power of two.
func TestSizeOptionLimits(t *testing.T) {
	e := openMem(t, nil)
	// The first entries panicked before the limits; the MaxInt one hung.
	for _, opts := range []Options{
		{QueueSize: math.MaxInt >> 3}, // 2^60 on 64-bit machines
		{MetricsWindow: math.MaxInt >> 1},
		{QueueSize: math.MaxInt},
		{QueueSize: maxQueueSize + 1},
		{MetricsWindow: maxMetricsWindow + 1},
	} {
		if _, err := New(e, &opts); !errors.Is(err, mmsb.ErrInvalidOption) {
			t.Fatalf("New(%+v) = %v, want mmsb.ErrInvalidOption", opts, err)
		}
	}
}

// TestSubscribeBufferLimit: a huge subscription buffer is refused with
// ErrInvalidOption (make(chan) panicked: "makechan: size out of range").
func TestSubscribeBufferLimit(t *testing.T) {
	e := openMem(t, nil)
	o := newOrch(t, e, nil)
	for _, size := range []int{math.MaxInt >> 1, math.MaxInt, maxSubscriptionBuffer + 1} {
		if _, err := o.Subscribe(EventFilter{}, size, false); !errors.Is(err, mmsb.ErrInvalidOption) {
			t.Fatalf("Subscribe(buffer %d) = %v, want mmsb.ErrInvalidOption", size, err)
		}
	}
	if s, err := o.Subscribe(EventFilter{}, maxSubscriptionBuffer, false); err != nil {
		t.Fatalf("Subscribe(buffer %d) = %v", maxSubscriptionBuffer, err)
	} else {
		s.Close()
	}
}

// limitedReplicator accepts every record but carries at most max bytes per
// message, as a JetStream replicator does.
type limitedReplicator struct{ max int }

func (r limitedReplicator) MaxRecordBytes() int                      { return r.max }
func (limitedReplicator) Replicate(*mmsb.ReplicatedRecord) error     { return nil }
func (limitedReplicator) WaitStored(context.Context, mmsb.LSN) error { return nil }

// TestBatchOverRecordLimit: a tick whose batch is refused as a whole with
// ErrRecordTooLarge (the Replicator's message limit) commits what fits and
// keeps the rest, in order, for the next ticks; a delta that cannot fit
// even alone is rejected. Before, the whole batch was kept and refused
// again at every tick: nothing was ever committed again.
func TestBatchOverRecordLimit(t *testing.T) {
	e := openMem(t, &mmsb.Options{Replicator: limitedReplicator{max: 4096}})
	ids := mustCreate(t, e, 2, 8192)
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	sub, err := o.Subscribe(EventFilter{Types: []EventType{EventDeltaCommitted, EventDeltaRejected}}, 64, false)
	if err != nil {
		t.Fatal(err)
	}
	// Eight 1 KiB writes to page 1 (about 8 KiB in one record: over the
	// limit), one write to page 2 too large for any record, and one more
	// small write to page 1 behind it.
	var want []string
	for i := 0; i < 8; i++ {
		submitAll(t, o, delta.Delta{Page: ids[0], Source: "t", Runs: []delta.Run{{Offset: uint32(i), Data: bytes.Repeat([]byte{byte('a' + i)}, 1024)}}})
		want = append(want, fmt.Sprintf("committed page=%d", ids[0]))
	}
	submitAll(t, o, delta.Delta{Page: ids[1], Source: "t", Runs: []delta.Run{{Data: make([]byte, 8192)}}})
	want = append(want, fmt.Sprintf("rejected page=%d", ids[1]))
	submitAll(t, o, delta.Delta{Page: ids[0], Source: "t", Runs: []delta.Run{{Offset: 8000, Data: []byte("last")}}})
	want = append(want, fmt.Sprintf("committed page=%d", ids[0]))

	var got []string
	committed, rejected := 0, 0
	for tick := 0; tick < 20 && committed+rejected < 10; tick++ {
		r, err := o.Tick(ctx)
		if err != nil {
			t.Fatalf("tick %d: %v", tick+1, err)
		}
		if r.Carried+r.Drained != r.Committed+r.Rejected+r.Kept {
			t.Fatalf("tick %d: carried %d + drained %d != committed %d + rejected %d + kept %d", tick+1, r.Carried, r.Drained, r.Committed, r.Rejected, r.Kept)
		}
		for _, rj := range r.Rejections {
			if !errors.Is(rj.Err, mmsb.ErrRecordTooLarge) {
				t.Fatalf("tick %d: rejection %v, want mmsb.ErrRecordTooLarge", tick+1, rj.Err)
			}
		}
		committed += r.Committed
		rejected += r.Rejected
		for len(sub.C) > 0 {
			ev := <-sub.C
			got = append(got, fmt.Sprintf("%v page=%d", ev.Type, ev.Page))
		}
	}
	if committed != 9 || rejected != 1 || o.QueueLen() != 0 {
		t.Fatalf("committed %d, rejected %d, still queued %d; want 9, 1, 0", committed, rejected, o.QueueLen())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v\nwant %v", got, want)
	}
	// Submission order held: each write overwrote the earlier ones from its
	// offset on, and the last one landed.
	b, _, err := e.ReadPage(ids[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	wantPage := make([]byte, 8192)
	for i := 0; i < 8; i++ {
		copy(wantPage[i:], bytes.Repeat([]byte{byte('a' + i)}, 1024))
	}
	copy(wantPage[8000:], "last")
	if !bytes.Equal(b, wantPage) {
		t.Fatal("page 1 does not hold the writes applied in submission order")
	}
}

// TestMetricsQueueLenCountsKept: Metrics().QueueLen (exported as the
// mmsb_tick_queue_deltas gauge, "submitted deltas waiting for a tick")
// counts the deltas a tick kept, as QueueLen does; it reported 0 for them.
func TestMetricsQueueLenCountsKept(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 64)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	keepWorkload(t, o, id)
	e.Close()
	if _, err := o.Tick(ctx); !errors.Is(err, mmsb.ErrClosed) {
		t.Fatalf("tick over a closed bus: %v, want ErrClosed", err)
	}
	if q, mq := o.QueueLen(), o.Metrics().QueueLen; q != 6 || mq != q {
		t.Fatalf("QueueLen %d, Metrics().QueueLen %d; want 6 for both", q, mq)
	}
}

// TestQueueLenAfterClose: Close drops the queued deltas, and QueueLen (and
// the mmsb_tick_queue_deltas gauge with it) says so. It kept reporting
// them: 3 after Close here.
func TestQueueLenAfterClose(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 64)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	for i := range 3 {
		d := mmsb.Write(id, uint32(i), []byte{1})
		if err := o.Submit(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	if q := o.QueueLen(); q != 3 {
		t.Fatalf("QueueLen %d before Close, want 3", q)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if q, mq := o.QueueLen(), o.Metrics().QueueLen; q != 0 || mq != 0 {
		t.Fatalf("after Close: QueueLen %d, Metrics().QueueLen %d; want 0 (Close dropped them)", q, mq)
	}
}
