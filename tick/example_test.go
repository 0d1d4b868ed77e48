package tick_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

// SubmitBatch queues a batch all or nothing: one bad delta refuses the
// whole batch, so it can be fixed and sent again without applying the
// good ones twice.
func ExampleOrchestrator_SubmitBatch() {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		panic(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		panic(err)
	}
	o, err := tick.New(bus, &tick.Options{SkipStartupResync: true})
	if err != nil {
		panic(err)
	}
	defer o.Close()

	batch := []mmsb.Delta{mmsb.Write(id, 0, []byte("ab")), mmsb.Write(id+1, 0, []byte("x"))}
	err = o.SubmitBatch(ctx, batch)
	fmt.Println("refused:", errors.Is(err, mmsb.ErrPageNotFound))

	if err := o.SubmitBatch(ctx, batch[:1]); err != nil {
		panic(err)
	}
	r, err := o.Tick(ctx)
	if err != nil {
		panic(err)
	}
	b, _, _ := bus.ReadPage(id, nil)
	fmt.Printf("committed %d, page %q\n", r.Committed, b[:2])
	// Output:
	// refused: true
	// committed 1, page "ab"
}

// Drain is the graceful stop: once Run has returned and nothing submits
// any more, it ticks until every submitted delta is committed (or
// rejected), so that Close drops nothing.
func ExampleOrchestrator_Drain() {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		panic(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8})
	if err != nil {
		panic(err)
	}
	o, err := tick.New(bus, &tick.Options{SkipStartupResync: true})
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx, time.Hour) }()
	d := mmsb.Write(id, 0, []byte("kept"))
	if err := o.Submit(context.Background(), &d); err != nil {
		panic(err)
	}

	stop() // the program is told to stop before the next tick
	if err := <-done; err != nil {
		panic(err)
	}
	left, err := o.Drain(context.Background())
	fmt.Println("left:", left, err)
	if err := o.Close(); err != nil {
		panic(err)
	}
	b, _, _ := bus.ReadPage(id, nil)
	fmt.Printf("page %q\n", b[:4])
	// Output:
	// left: 0 <nil>
	// page "kept"
}

// smallRecords stands for a replicator whose messages carry at most 4 KiB
// (a JetStream stream's message limit does the same).
type smallRecords struct{}

func (smallRecords) MaxRecordBytes() int                        { return 4096 }
func (smallRecords) Replicate(*mmsb.ReplicatedRecord) error     { return nil }
func (smallRecords) WaitStored(context.Context, mmsb.LSN) error { return nil }

// A propagation wave is applied as one record. When the log refuses it
// (here: two 3000-byte derived pages against a 4 KiB record limit), the
// tick still commits its deltas, the derived pages stay pending, Tick
// returns the wave's error, and EventPropagationFailed says why. Run goes
// on after such a tick, so subscribing is how a program that runs it
// learns that its derived pages are not being computed.
func ExampleEventPropagationFailed() {
	ctx := context.Background()
	bus, err := mmsb.Open("", &mmsb.Options{Replicator: smallRecords{}})
	if err != nil {
		panic(err)
	}
	defer bus.Close()
	var ids []mmsb.PageID
	for i := 0; i < 3; i++ {
		id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 3000})
		if err != nil {
			panic(err)
		}
		ids = append(ids, id)
	}
	for _, child := range ids[1:] {
		if err := bus.Bind(ctx, child, "passthrough", nil, []mmsb.PageID{ids[0]}); err != nil {
			panic(err)
		}
	}
	o, err := tick.New(bus, &tick.Options{SkipStartupResync: true})
	if err != nil {
		panic(err)
	}
	defer o.Close()
	sub, err := o.Subscribe(tick.EventFilter{Types: []tick.EventType{tick.EventPropagationFailed}}, 8, false)
	if err != nil {
		panic(err)
	}

	d := mmsb.Write(ids[0], 0, bytes.Repeat([]byte{1}, 3000))
	if err := o.Submit(ctx, &d); err != nil {
		panic(err)
	}
	r, err := o.Tick(ctx)
	fmt.Println("committed:", r.Committed, "tick error is the wave's:", errors.Is(err, mmsb.ErrRecordTooLarge))
	ev := <-sub.C // published before Tick returned
	fmt.Println(ev.Type, errors.Is(ev.Err, mmsb.ErrRecordTooLarge))
	fmt.Println("pending:", bus.Pending()) // the written page, both children never computed
	// Output:
	// committed: 1 tick error is the wave's: true
	// propagation-failed true
	// pending: 3
}
