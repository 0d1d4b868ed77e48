package demo_test

import (
	"context"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/demo"
)

func f64At(t *testing.T, bus *mmsb.Bus, id mmsb.PageID, i int) float64 {
	t.Helper()
	b, _, err := bus.ReadPage(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b[i*8:]))
}

// TestBuild checks the demo's shape and that its derived pages compute
// what their functions say.
func TestBuild(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	l, err := demo.Build(ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	st := bus.Stats()
	if st.Pages != l.Pages() || st.Pages != 310 || st.Bindings != demo.Zones+demo.Regions+1 {
		t.Fatalf("%d pages (layout %d), %d bindings", st.Pages, l.Pages(), st.Bindings)
	}
	for i, id := range l.Sensors {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 8, binary.LittleEndian.AppendUint64(nil, math.Float64bits(float64(i))))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	// zone z sums sensors 8z..8z+7 (values 8z..8z+7); region r is the
	// largest of its zones; the total sums the regions.
	var total float64
	for r := range demo.Regions {
		best := math.Inf(-1)
		for z := r * demo.ZonesPer; z < (r+1)*demo.ZonesPer; z++ {
			want := float64(8*(8*z) + 28)
			if got := f64At(t, bus, l.Zones[z], 1); got != want {
				t.Fatalf("zone %d = %v, want %v", z, got, want)
			}
			best = math.Max(best, want)
		}
		if got := f64At(t, bus, l.Regions[r], 1); got != best {
			t.Fatalf("region %d = %v, want %v", r, got, best)
		}
		total += best
	}
	if got := f64At(t, bus, l.Total, 1); got != total {
		t.Fatalf("total = %v, want %v", got, total)
	}
	if f, _ := bus.Flags(l.Alarm); f == 0 {
		t.Error("the alarm is not flagged after the total changed")
	}
}

// TestStart: the writer and the ticks move the bus on their own.
func TestStart(t *testing.T) {
	d, err := demo.Start(demo.Options{Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := d.Bus.LastLSN()
	for deadline := time.Now().Add(30 * time.Second); d.Bus.LastLSN() < start+100; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the demo committed %d operations in 30 s", d.Bus.LastLSN()-start)
		}
	}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
