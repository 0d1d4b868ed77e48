package tick

import (
	"testing"

	"github.com/mmsb-go/mmsb"
)

// Every tick lands in each phase's histogram: its count follows Count,
// its buckets are cumulative, and the window-free histogram keeps ticks the
// P50/P99 window has dropped.
func TestPhaseHistogramCountsEveryTick(t *testing.T) {
	e := openMem(t, nil)
	id, err := e.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	o := newOrch(t, e, &Options{MetricsWindow: 2, SkipStartupResync: true})
	const ticks = 5
	for i := 0; i < ticks; i++ {
		d := f64Write(id, float64(i))
		if err := o.Submit(ctx, &d); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for p := Phase(0); p < NumPhases; p++ {
		ps := o.Metrics().Phases[p]
		h := ps.Histogram
		if h.Count != ps.Count || h.Count != ticks {
			t.Fatalf("phase %v: histogram count %d, phase count %d, want %d", p, h.Count, ps.Count, ticks)
		}
		if len(h.Bounds) != len(h.Counts) || h.Bounds[0] != 10e-6 {
			t.Fatalf("phase %v: bounds %v", p, h.Bounds)
		}
		for i := 1; i < len(h.Counts); i++ {
			if h.Counts[i] < h.Counts[i-1] || h.Bounds[i] <= h.Bounds[i-1] {
				t.Fatalf("phase %v: not cumulative/ascending at %d: %v %v", p, i, h.Bounds, h.Counts)
			}
		}
	}
	if tot := o.Metrics().Phases[PhaseTotal].Histogram; tot.Sum <= 0 {
		t.Fatalf("total tick time sum %v", tot.Sum)
	}
}
