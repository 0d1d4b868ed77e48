package tick

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestTickWaitEndsWithItsContext: a Tick or FlushPropagation that finds
// another tick running waits for it only until its own context ends (or
// the orchestrator closes), and takes nothing from the queue then. The
// running tick here is held by a blocking subscription nobody reads, as
// documented; the waiting calls used to wait for it for ever, deadline or
// not (a sync.Mutex ignores contexts): a flush with a 50 ms deadline from
// a request handler hung as long as the reader did.
func TestTickWaitEndsWithItsContext(t *testing.T) {
	e := openMem(t, nil)
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	sub, err := o.Subscribe(EventFilter{Types: []EventType{EventDeltaCommitted}}, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	submitAll(t, o, f64Write(ids[0], 1), f64Write(ids[1], 2))
	held := make(chan error, 1)
	go func() { _, err := o.Tick(context.Background()); held <- err }()
	// Once the first event is in the buffer the tick holds the lock until
	// the second is read.
	deadline := time.Now().Add(10 * time.Second)
	for len(sub.C) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the tick published nothing")
		}
		time.Sleep(time.Millisecond)
	}
	submitAll(t, o, f64Write(ids[0], 3))

	// wait runs call with a context that ends after 50 ms and returns its
	// error, failing the test if it has not returned seconds later.
	wait := func(what string, call func(context.Context) error) error {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- call(cctx) }()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still waiting for the running tick 10 s after its context ended", what)
			return nil
		}
	}
	if err := wait("FlushPropagation", func(c context.Context) error {
		_, err := o.FlushPropagation(c)
		return err
	}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("FlushPropagation behind a held tick: %v, want context.DeadlineExceeded", err)
	}
	if err := wait("Tick", func(c context.Context) error {
		_, err := o.Tick(c)
		return err
	}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Tick behind a held tick: %v, want context.DeadlineExceeded", err)
	}
	if n := o.QueueLen(); n != 1 {
		t.Fatalf("QueueLen %d after the waits ended, want 1: a Tick that did not run drains nothing", n)
	}

	// The reader comes back: the held tick ends, and the next one commits
	// what waited.
	<-sub.C
	<-sub.C
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	r, err := o.Tick(ctx)
	if err != nil || r.Committed != 1 {
		t.Fatalf("next tick: %+v, %v; want the waiting delta committed", r, err)
	}
	if got := readF64(t, e, ids[0]); got != 3 {
		t.Fatalf("page %d = %v, want 3", ids[0], got)
	}

	// A Tick waiting behind a held tick when the orchestrator closes
	// returns ErrClosed.
	submitAll(t, o, f64Write(ids[0], 4), f64Write(ids[1], 5))
	go func() { _, err := o.Tick(context.Background()); held <- err }()
	for len(sub.C) == 0 {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("the tick published nothing")
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { _, err := o.Tick(context.Background()); closed <- err }()
	o.Close()
	for _, ch := range []chan error{held, closed} {
		select {
		case err := <-ch:
			if ch == closed && !errors.Is(err, mmsb.ErrClosed) {
				t.Fatalf("Tick waiting when the orchestrator closed: %v, want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a tick still runs 10 s after Close")
		}
	}
}
