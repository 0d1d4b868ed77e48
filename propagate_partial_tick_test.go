package mmsb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/tick"
)

var errAlwaysFails = errors.New("function always fails")

// tickPartialBus opens a bus with a -> b (copy, healthy) and x -> f (always
// fails) -> g (copy), and an orchestrator over it. SkipStartupResync keeps
// the first tick about the test's writes alone.
func tickPartialBus(t *testing.T) (*mmsb.Bus, *tick.Orchestrator, [5]mmsb.PageID) {
	t.Helper()
	cp := func(in [][]byte, _, out []byte) error { copy(out, in[0]); return nil }
	fns := map[string]mmsb.RecomputeFunc{
		"test.copy":  cp,
		"test.fails": func([][]byte, []byte, []byte) error { return errAlwaysFails },
	}
	bus, err := mmsb.Open("", &mmsb.Options{Functions: fns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	ctx := context.Background()
	specs := make([]mmsb.PageSpec, 5)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 8}
	}
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	a, b, x, f, g := ids[0], ids[1], ids[2], ids[3], ids[4]
	for _, bd := range []struct {
		child, parent mmsb.PageID
		fn            string
	}{{b, a, "test.copy"}, {f, x, "test.fails"}, {g, f, "test.copy"}} {
		if err := bus.Bind(ctx, bd.child, bd.fn, nil, []mmsb.PageID{bd.parent}); err != nil {
			t.Fatal(err)
		}
	}
	o, err := tick.New(bus, &tick.Options{SkipStartupResync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return bus, o, [5]mmsb.PageID{a, b, x, f, g}
}

func submitByte(t *testing.T, o *tick.Orchestrator, id mmsb.PageID, v byte) {
	t.Helper()
	d := delta.Delta{Page: id, Runs: []delta.Run{{Data: []byte{v}}}}
	if err := o.Submit(context.Background(), &d); err != nil {
		t.Fatal(err)
	}
}

// TestPartialWaveTickKeepsComputing: with one function that always fails,
// every tick still computes the healthy derived page from the tick's
// writes, and publishes EventRecomputeFailed naming the failing page.
func TestPartialWaveTickKeepsComputing(t *testing.T) {
	bus, o, p := tickPartialBus(t)
	a, b, x, f := p[0], p[1], p[2], p[3]
	sub, err := o.Subscribe(tick.EventFilter{Types: []tick.EventType{tick.EventPageRecomputed, tick.EventRecomputeFailed}}, 64, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	submitByte(t, o, x, 9)
	for v := byte(1); v <= 3; v++ {
		submitByte(t, o, a, v)
		r, err := o.Tick(ctx)
		var re *mmsb.RecomputeError
		if !errors.As(err, &re) || re.Page != f || !errors.Is(err, errAlwaysFails) {
			t.Fatalf("tick %d: error %v, want the RecomputeError of page %d", v, err, f)
		}
		if got, _, _ := bus.ReadPage(b, nil); got[0] != v {
			t.Fatalf("tick %d: b = %d, want %d (computed although f fails)", v, got[0], v)
		}
		if len(r.Propagation.Writes) != 1 || r.Propagation.Writes[0].Page != b {
			t.Fatalf("tick %d: propagation wrote %+v, want b", v, r.Propagation.Writes)
		}
		var recomputed, failed int
		for len(sub.C) > 0 {
			ev := <-sub.C
			if ev.Tick != r.Tick {
				t.Fatalf("tick %d: event %v of tick %d", v, ev, ev.Tick)
			}
			switch {
			case ev.Type == tick.EventPageRecomputed && ev.Page == b:
				recomputed++
			case ev.Type == tick.EventRecomputeFailed && ev.Page == f && ev.Name == "test.fails":
				failed++
			default:
				t.Fatalf("tick %d: unexpected event %v", v, ev)
			}
		}
		if recomputed != 1 || failed != 1 {
			t.Fatalf("tick %d: %d recomputed and %d recompute-failed events, want 1 and 1", v, recomputed, failed)
		}
	}
	if m := o.Metrics(); m.RecomputeFailures != 3 || m.DerivedWrites != 3 {
		t.Fatalf("metrics: %d recompute failures, %d derived writes; want 3 and 3", m.RecomputeFailures, m.DerivedWrites)
	}
}

// TestPartialWaveRunKeepsComputing: Run goes on through recompute
// failures: each tick publishes EventRecomputeFailed, and writes submitted
// while it runs (here from the subscriber, after each failure) are
// propagated to the healthy page.
func TestPartialWaveRunKeepsComputing(t *testing.T) {
	bus, o, p := tickPartialBus(t)
	a, b, x, f := p[0], p[1], p[2], p[3]
	sub, err := o.Subscribe(tick.EventFilter{Types: []tick.EventType{tick.EventPageRecomputed, tick.EventRecomputeFailed}}, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	submitByte(t, o, x, 9)
	submitByte(t, o, a, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, 1e6) }() // 1 ms
	failedTicks := map[uint64]bool{}
	var lastFailed uint64
	next := byte(2)
events:
	for ev := range sub.C {
		switch ev.Type {
		case tick.EventRecomputeFailed:
			if ev.Page != f || !errors.Is(ev.Err, errAlwaysFails) {
				t.Fatalf("recompute-failed event %v, want page %d", ev, f)
			}
			if lastFailed != 0 && ev.Tick != lastFailed+1 {
				t.Fatalf("recompute-failed at tick %d after tick %d: a tick did not report the failure", ev.Tick, lastFailed)
			}
			failedTicks[ev.Tick], lastFailed = true, ev.Tick
			if len(failedTicks) >= 50 {
				break events // b never reached 4: failed below
			}
			if next <= 4 && len(failedTicks) >= int(next)*2 {
				submitByte(t, o, a, next) // propagated by a later tick, f failing all along
				next++
			}
		case tick.EventPageRecomputed:
			if ev.Page != b {
				t.Fatalf("page %d recomputed, want only b (%d)", ev.Page, b)
			}
			if got, _, _ := bus.ReadPage(b, nil); got[0] == 4 {
				break events
			}
		}
	}
	cancel()
	sub.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	if got, _, _ := bus.ReadPage(b, nil); got[0] != 4 || len(failedTicks) < 6 {
		t.Fatalf("b = %d after %d failing ticks, want 4 after 6 or more", got[0], len(failedTicks))
	}
}
