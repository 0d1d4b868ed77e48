package tick_test

import (
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
