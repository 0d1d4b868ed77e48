package tick

import (
	"context"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// Metrics sorts the windows of phase samples for the percentiles after
// releasing metricsMu, under which every tick records its durations: a
// scrape's sorts (seven windows of up to 2^20 samples) held the next tick
// back. The hook runs where Metrics sorts and checks that the lock is free
// then; the percentiles still come out.
func TestMetricsSortsWithoutTheLock(t *testing.T) {
	bus, err := mmsb.Open("", &mmsb.Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	o, err := New(bus, &Options{SkipStartupResync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for range 3 {
		if _, err := o.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	sorts, locked := 0, 0
	o.percentileHook = func() {
		sorts++
		if !o.metricsMu.TryLock() {
			locked++
			return
		}
		o.metricsMu.Unlock()
	}
	m := o.Metrics()
	if sorts != 1 || locked != 0 {
		t.Fatalf("Metrics sorted %d times (want 1), %d of them with metricsMu held (want 0)", sorts, locked)
	}
	// P99 of 3 ticks is the slowest by nearest rank.
	if p := m.Phases[PhaseTotal]; p.Count != 3 || p.P99 != p.Max || p.P50 > p.P99 {
		t.Fatalf("total phase %+v: want 3 ticks, P50 <= P99 = Max", p)
	}
}
