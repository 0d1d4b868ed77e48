package tick

import (
	"testing"
	"time"
)

// TestIdleTickAllocatesNothing: a game loop ticks for hours, most ticks
// with nothing submitted; with a subscriber such a tick allocated once
// (the target of the errors.As that looks for a recompute failure escaped
// to the heap, error or not).
func TestIdleTickAllocatesNothing(t *testing.T) {
	e := openMem(t, nil)
	o := newOrch(t, e, &Options{SkipStartupResync: true, Budget: time.Hour})
	s, err := o.Subscribe(EventFilter{}, 16, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 4 { // warm up: reservoirs, scratch
		if _, err := o.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(100, func() {
		if _, err := o.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("an idle tick with a subscriber allocates %v times", a)
	}
}
