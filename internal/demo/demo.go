// Package demo builds the in-memory bus that `mmsb serve --demo` serves: a
// few hundred pages, derived pages bound to the built-in recompute
// functions in three levels, a control edge that raises flags, and a
// ticking writer, so that someone opening the inspector sees live changes
// at once.
package demo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

// Shape of the demo bus.
const (
	Sensors     = 256 // f64 pages of 8 values written by the writer
	SensorsPer  = 8   // sensors summed into one zone
	Zones       = Sensors / SensorsPer
	ZonesPer    = 8 // zones whose maximum makes a region
	Regions     = Zones / ZonesPer
	Notes       = 16 // untyped text pages the writer appends messages to
	ValueBytes  = 8 * 8
	NoteBytes   = 256
	writesPerTx = 12
)

// Layout names the demo's pages.
type Layout struct {
	Sensors []mmsb.PageID // f64 inputs
	Zones   []mmsb.PageID // zone[i] = f64.sum(Sensors[8i:8i+8])
	Regions []mmsb.PageID // region[i] = f64.max(Zones[8i:8i+8])
	Total   mmsb.PageID   // f64.sum(Regions)
	Alarm   mmsb.PageID   // flagged (control edge from Total) when Total changes
	Notes   []mmsb.PageID // text written by the writer
}

// Pages returns how many pages the demo creates.
func (l *Layout) Pages() int {
	return len(l.Sensors) + len(l.Zones) + len(l.Regions) + 2 + len(l.Notes)
}

// Options configure a demo.
type Options struct {
	// Interval between the writer's submissions (default 200 ms); ticks run
	// at half of it.
	Interval time.Duration
	// Seed of the writer's random choices (default 1).
	Seed uint64
	// Sync is the bus's sync mode (default group; the log is in memory).
	Sync mmsb.SyncMode
}

// Demo is a running demo: the bus, its orchestrator and the writer.
type Demo struct {
	Bus    *mmsb.Bus
	Ticks  *tick.Orchestrator
	Layout Layout

	// TickInterval is the period Ticks runs at (half the writer's
	// Interval, so that every submission meets a tick).
	TickInterval time.Duration

	stop context.CancelFunc
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
}

var f64Meta = []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f64")}}

// Build creates the demo pages and bindings on bus and returns their layout.
func Build(ctx context.Context, bus *mmsb.Bus) (Layout, error) {
	var l Layout
	create := func(n, size int, meta []mmsb.MetaEntry) ([]mmsb.PageID, error) {
		specs := make([]mmsb.PageSpec, n)
		for i := range specs {
			specs[i] = mmsb.PageSpec{Size: size, Meta: meta}
		}
		return bus.CreatePages(ctx, specs)
	}
	var err error
	if l.Sensors, err = create(Sensors, ValueBytes, f64Meta); err != nil {
		return l, err
	}
	if l.Zones, err = create(Zones, ValueBytes, f64Meta); err != nil {
		return l, err
	}
	if l.Regions, err = create(Regions, ValueBytes, f64Meta); err != nil {
		return l, err
	}
	one, err := create(2, ValueBytes, f64Meta)
	if err != nil {
		return l, err
	}
	l.Total, l.Alarm = one[0], one[1]
	if l.Notes, err = create(Notes, NoteBytes, nil); err != nil {
		return l, err
	}
	for i, z := range l.Zones {
		if err := bus.Bind(ctx, z, "f64.sum", nil, l.Sensors[i*SensorsPer:(i+1)*SensorsPer]); err != nil {
			return l, err
		}
	}
	for i, r := range l.Regions {
		if err := bus.Bind(ctx, r, "f64.max", nil, l.Zones[i*ZonesPer:(i+1)*ZonesPer]); err != nil {
			return l, err
		}
	}
	if err := bus.Bind(ctx, l.Total, "f64.sum", nil, l.Regions); err != nil {
		return l, err
	}
	if err := bus.AddEdge(ctx, l.Total, l.Alarm, mmsb.EdgeControl); err != nil {
		return l, err
	}
	return l, nil
}

// Start opens an in-memory bus, builds the demo on it, and starts the
// orchestrator and the writer. Close stops them and closes the bus.
func Start(o Options) (*Demo, error) {
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	bus, err := mmsb.Open("", &mmsb.Options{Sync: o.Sync})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l, err := Build(ctx, bus)
	if err != nil {
		cancel()
		return nil, errors.Join(fmt.Errorf("demo: %w", err), bus.Close())
	}
	orch, err := tick.New(bus, nil)
	if err != nil {
		cancel()
		return nil, errors.Join(err, bus.Close())
	}
	d := &Demo{Bus: bus, Ticks: orch, Layout: l, TickInterval: o.Interval / 2, stop: cancel}
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		d.setErr(orch.Run(ctx, d.TickInterval))
	}()
	go func() {
		defer d.wg.Done()
		d.write(ctx, o)
	}()
	return d, nil
}

func (d *Demo) setErr(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	d.mu.Lock()
	if d.err == nil {
		d.err = err
	}
	d.mu.Unlock()
}

// Err returns the first error of the orchestrator or the writer.
func (d *Demo) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// write submits a few sensor readings (a slow wave plus noise) and now and
// then a note, every interval.
func (d *Demo) write(ctx context.Context, o Options) {
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d6d7362))
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	var buf [8]byte
	for step := 0; ; step++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for range writesPerTx {
			s := rng.IntN(len(d.Layout.Sensors))
			slot := rng.IntN(ValueBytes / 8)
			v := float64(10*math.Sin(float64(step)/20+float64(s)/10)) + rng.NormFloat64() // float64(): never fused (package semiring's doc)
			binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
			dl := mmsb.Write(d.Layout.Sensors[s], uint32(slot*8), buf[:])
			dl.Source = "demo-writer"
			if err := d.Ticks.Submit(ctx, &dl); err != nil {
				d.setErr(err)
				return
			}
		}
		if step%10 == 0 {
			n := d.Layout.Notes[(step/10)%len(d.Layout.Notes)]
			msg := fmt.Sprintf("step %d: %d readings submitted", step, writesPerTx)
			dl := mmsb.Write(n, uint32(rng.IntN(NoteBytes-64)), []byte(msg))
			dl.Source = "demo-notes"
			dl.Intent = []byte(`{"why":"demo note"}`)
			if err := d.Ticks.Submit(ctx, &dl); err != nil {
				d.setErr(err)
				return
			}
		}
	}
}

// Close stops the writer, commits what was submitted and no tick has
// committed yet (the writer's deltas, and those of clients of `mmsb serve
// --demo`, which shuts its server down first), and closes the
// orchestrator and the bus.
func (d *Demo) Close() error {
	d.stop()
	d.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	var drainErr error
	if left, err := d.Ticks.Drain(ctx); err != nil {
		drainErr = fmt.Errorf("demo: %d submitted deltas not committed: %w", left, err)
	}
	return errors.Join(drainErr, d.Ticks.Close(), d.Bus.Close())
}

// drainTimeout bounds the ticks Close runs to commit what waits.
const drainTimeout = 10 * time.Second
