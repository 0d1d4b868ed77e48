package tick

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// livenessBound turns a deadlock into a failure with a message instead of
// a hang to the global test timeout. It bounds a wait for something that
// must happen; it measures nothing.
const livenessBound = 30 * time.Second

// await returns the next value from ch, or fails the test (naming what it
// waited for) if none comes within livenessBound.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(livenessBound):
		t.Fatalf("%s: nothing after %v (deadlock?)", what, livenessBound)
		panic("unreachable")
	}
}

// tickAsync runs o.Tick(ctx) on its own goroutine.
func tickAsync(o *Orchestrator) <-chan error {
	done := make(chan error, 1)
	go func() { _, err := o.Tick(ctx); done <- err }()
	return done
}

// TestHooksMayCallOrchestrator pins issue 7 item 9 (hooks under tickMu):
// an invariant hook may read the bus, Submit while the queue has room,
// Subscribe, close a subscription, register and unregister hooks, read
// Metrics and QueueLen, and finally Close the orchestrator, without
// deadlocking the tick that runs it. Hooks used to run under tickMu, which
// RegisterInvariant, UnregisterInvariant and Close take.
func TestHooksMayCallOrchestrator(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 8)[0]
	o := newOrch(t, e, nil)
	other, err := o.Subscribe(EventFilter{}, 64, false)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	step := func(what string, err error) {
		if err != nil {
			what += ": " + err.Error()
		}
		steps = append(steps, what)
	}
	if err := o.RegisterInvariant("a-calls-everything", 1, func() error {
		_, _, err := e.ReadPage(id, nil)
		step("read", err)
		d := f64Write(id, 7)
		step("submit", o.Submit(ctx, &d))
		s, err := o.Subscribe(EventFilter{}, 1, true)
		step("subscribe", err)
		if s != nil {
			s.Close()
		}
		other.Close()
		step("close subscriptions", nil)
		step("register", o.RegisterInvariant("z-later", 1, func() error { return nil }))
		o.UnregisterInvariant("z-later")
		step("unregister", nil)
		_ = o.Metrics()
		_ = o.QueueLen()
		step("metrics", nil)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := o.RegisterInvariant("b-closes", 1, func() error {
		step("close orchestrator", o.Close())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := await(t, tickAsync(o), "a tick whose hooks call the orchestrator"); err != nil {
		t.Fatal(err)
	}
	want := "[read submit subscribe close subscriptions register unregister metrics close orchestrator]"
	if got := fmt.Sprint(steps); got != want {
		t.Fatalf("hook steps %s, want %s", got, want)
	}
	if _, err := o.Tick(ctx); !errors.Is(err, mmsb.ErrClosed) {
		t.Fatalf("Tick after a hook closed the orchestrator: %v", err)
	}
	if _, ok := <-other.C; ok {
		t.Fatal("subscription closed by a hook still open")
	}
}

// TestSubscribersMayCallOrchestrator pins issue 7 item 9 (publish under
// subMu): the reader of a blocking subscription, woken by an event while
// the tick waits to deliver the next one, may Subscribe, close another
// subscription, register an invariant and close its own subscription. The
// old publish held subMu while blocked on the reader, and Subscribe and
// Close need it.
func TestSubscribersMayCallOrchestrator(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 3, 8)
	o := newOrch(t, e, nil)
	other, err := o.Subscribe(EventFilter{}, 64, false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Subscribe(EventFilter{Types: []EventType{EventDeltaCommitted}}, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	submitAll(t, o, f64Write(ids[0], 1), f64Write(ids[1], 2), f64Write(ids[2], 3))
	done := tickAsync(o)
	// The reader: the buffer holds one event, so after the first the tick
	// waits to deliver the next while the reader calls the orchestrator.
	type outcome struct {
		late *Subscription
		err  error
	}
	reader := make(chan outcome, 1)
	go func() {
		<-s.C
		late, err := o.Subscribe(EventFilter{}, 64, false)
		if err == nil {
			other.Close()
			err = o.RegisterInvariant("from-reader", 1, func() error { return nil })
		}
		<-s.C
		s.Close()
		reader <- outcome{late, err}
	}()
	out := await(t, reader, "a blocking subscription's reader calling Subscribe, Close and RegisterInvariant")
	if out.err != nil {
		t.Fatal(out.err)
	}
	late := out.late
	if err := await(t, done, "the tick"); err != nil {
		t.Fatal(err)
	}
	// The next tick delivers to the subscription added during the publish.
	submitAll(t, o, f64Write(ids[0], 4))
	if err := await(t, tickAsync(o), "the next tick"); err != nil {
		t.Fatal(err)
	}
	if ev := await(t, late.C, "an event for the late subscription"); ev.Tick != 2 {
		t.Fatalf("late subscription got %v from tick %d, want tick 2", ev, ev.Tick)
	}
}
