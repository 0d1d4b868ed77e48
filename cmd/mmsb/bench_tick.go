package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

// tickBenchResult is what `mmsb bench --workload tick --json` prints.
type tickBenchResult struct {
	Workload         string  `json:"workload"`
	Pages            int     `json:"pages"`
	PageSize         int     `json:"page_size"`
	Derived          int     `json:"derived"`
	Fanin            int     `json:"fanin"`
	Ticks            int     `json:"ticks"`
	DeltasPerTick    int     `json:"deltas_per_tick"`
	Sync             string  `json:"sync"`
	Workers          int     `json:"workers"`
	Seed             uint64  `json:"seed"`
	DeltasPerSec     float64 `json:"deltas_per_sec"`
	RecomputedPerSec float64 `json:"recomputed_per_sec"`
	Recomputed       uint64  `json:"recomputed"`
	DerivedWrites    uint64  `json:"derived_writes"`
	TickP50NS        int64   `json:"tick_p50_ns"`
	TickP99NS        int64   `json:"tick_p99_ns"`
	TickMaxNS        int64   `json:"tick_max_ns"`
	CommitP50NS      int64   `json:"commit_p50_ns"`
	PropagateP50NS   int64   `json:"propagate_p50_ns"`
	Overruns         uint64  `json:"overruns"`
	RSSBytes         int64   `json:"rss_bytes"`
	GCPauseMaxNS     int64   `json:"gc_pause_max_ns"`
	GCCycles         uint32  `json:"gc_cycles"` // collections in the ticks: 0 means gc_pause_max_ns measured nothing
	StateHash        string  `json:"state_hash"`
	ReplayChecked    bool    `json:"replay_checked"`
	ReplayEqual      bool    `json:"replay_equal"`
}

// maxDeltasPerTick is the largest --deltas-per-tick: the orchestrator's
// intake queue (tick.Options.QueueSize, twice the deltas of a tick) holds
// at most 1<<22 deltas.
const maxDeltasPerTick = 1 << 21

// tickLoopHook runs as the tick workload's loop is about to start (a
// variable for tests; a no-op otherwise).
var tickLoopHook = func() {}

// runTickBench is `mmsb bench --workload tick`: ticks through an
// orchestrator, each draining --deltas-per-tick submitted float64 writes
// over --pages source pages, committing them and recomputing the --derived
// pages (each the f64.sum of --fanin random source pages) they affect.
func (a *app) runTickBench(ctx context.Context, o *benchOptions) error {
	// Each flag is named with its value: one message listing every
	// condition left the user to find which value broke it.
	for _, c := range []struct {
		flag     string
		val, min int
	}{{"--derived", o.derived, 0}, {"--fanin", o.fanin, 1}, {"--ticks", o.ticks, 1}, {"--deltas-per-tick", o.deltasPerTick, 1}, {"--page-size", o.pageSize, 8}} {
		if c.val < c.min {
			return usageErr("tick workload: %s must be at least %d, got %d", c.flag, c.min, c.val)
		}
	}
	if o.deltasPerTick > maxDeltasPerTick {
		// The orchestrator's intake queue holds two ticks' deltas and
		// is bounded: past it, tick.New refused after the pages had
		// been created and bound (exit 1, "tick QueueSize ... over its
		// limit"), and near MaxInt the doubled size wrapped negative.
		return usageErr("tick workload: --deltas-per-tick must be at most %d (the intake queue holds two ticks' deltas), got %d", maxDeltasPerTick, o.deltasPerTick)
	}
	if o.derived > 0 && o.pageSize%8 != 0 {
		// f64.sum refuses such a page at its binding, which came after the
		// bus was opened and the pages created (exit 1, --dir left full).
		return usageErr("--page-size %d: the tick workload's derived pages are f64.sum of float64 pages, so it must be a multiple of 8 (or --derived 0)", o.pageSize)
	}
	mode, _ := mmsb.ParseSyncMode(o.sync)
	bus, err := mmsb.Open(o.dir, &mmsb.Options{Sync: mode, Workers: o.workers, CheckpointBytes: o.checkpointBytes})
	if err != nil {
		return fmt.Errorf("open bus: %w", err)
	}
	defer bus.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	typed := []mmsb.MetaEntry{{Key: "mmsb.type", Value: []byte("f64")}}
	specs := make([]mmsb.PageSpec, 0, createChunk)
	var ids []mmsb.PageID
	for len(ids) < o.pages+o.derived {
		specs = specs[:0]
		for i := 0; i < createChunk && len(ids)+i < o.pages+o.derived; i++ {
			specs = append(specs, mmsb.PageSpec{Size: o.pageSize, Meta: typed})
		}
		got, err := bus.CreatePages(ctx, specs)
		if err != nil {
			return fmt.Errorf("create pages: %w", err)
		}
		ids = append(ids, got...)
	}
	src, derived := ids[:o.pages], ids[o.pages:]
	rng := rand.New(rand.NewPCG(o.seed, 0x71c4))
	for _, child := range derived {
		parents := make([]mmsb.PageID, 0, o.fanin)
		for len(parents) < o.fanin {
			p := src[rng.IntN(len(src))]
			if !slices.Contains(parents, p) {
				parents = append(parents, p)
			}
		}
		if err := bus.Bind(ctx, child, "f64.sum", nil, parents); err != nil {
			return fmt.Errorf("bind derived page %d: %w", child, err)
		}
	}
	orch, err := tick.New(bus, &tick.Options{QueueSize: o.deltasPerTick * 2, SkipStartupResync: true})
	if err != nil {
		return err
	}
	defer orch.Close()                        //nolint:errcheck // nothing written through it is lost by a failed close
	if _, err := orch.Tick(ctx); err != nil { // the first wave computes every derived page once
		return err
	}
	gc0 := readGCState()
	slots := o.pageSize / 8
	d := mmsb.Delta{Runs: make([]mmsb.Run, 1)}
	var val [8]byte
	// Grown tick by tick: sized from --ticks it panicked (makeslice) on
	// a large value before the first tick.
	ticks := make([]time.Duration, 0, min(o.ticks, 1<<16))
	tickLoopHook()
	bar := a.progress(int64(o.ticks), "ticking", "ticks")
	start := time.Now()
	for t := 0; t < o.ticks; t++ {
		for i := 0; i < o.deltasPerTick; i++ {
			binary.LittleEndian.PutUint64(val[:], math.Float64bits(float64(rng.IntN(1000))/8))
			d.Page = src[rng.IntN(len(src))]
			d.Runs[0] = mmsb.Run{Offset: uint32(rng.IntN(slots) * 8), Data: val[:]}
			if err := orch.Submit(ctx, &d); err != nil {
				return err
			}
		}
		t0 := time.Now()
		if _, err := orch.Tick(ctx); err != nil {
			return fmt.Errorf("tick %d: %w", t, err)
		}
		ticks = append(ticks, time.Since(t0))
		bar.add(1)
	}
	elapsed := time.Since(start)
	bar.finish()
	m := orch.Metrics()
	slices.Sort(ticks)
	res := &tickBenchResult{Workload: "tick", Pages: o.pages, PageSize: o.pageSize, Derived: o.derived, Fanin: o.fanin,
		Ticks: o.ticks, DeltasPerTick: o.deltasPerTick, Sync: mode.String(), Workers: o.workers, Seed: o.seed,
		DeltasPerSec: float64(o.ticks) * float64(o.deltasPerTick) / max(elapsed.Seconds(), 1e-9), // no int product: it overflows 32 bits
		Recomputed:   m.Recomputed, DerivedWrites: m.DerivedWrites,
		TickP50NS: int64(ticks[(len(ticks)-1)*50/100]), TickP99NS: int64(ticks[(len(ticks)-1)*99/100]),
		TickMaxNS:   int64(ticks[len(ticks)-1]),
		CommitP50NS: int64(m.Phases[tick.PhaseCommit].P50), PropagateP50NS: int64(m.Phases[tick.PhasePropagate].P50),
		Overruns: m.Overruns}
	res.RecomputedPerSec = float64(m.Recomputed) / max(time.Duration(m.Phases[tick.PhasePropagate].Mean*time.Duration(m.Phases[tick.PhasePropagate].Count)).Seconds(), 1e-9)
	gc1 := readGCState()
	res.GCPauseMaxNS, res.GCCycles = gcPauseMax(gc0, gc1)
	res.RSSBytes, _ = readRSS()
	if res.StateHash, err = stateHash(bus); err != nil {
		return err
	}
	if !o.noVerify {
		rep, err := bus.VerifyReplay(ctx, false)
		if err != nil {
			return fmt.Errorf("replay check: %w", err)
		}
		res.ReplayChecked, res.ReplayEqual = true, rep.Equal()
	}
	if o.json {
		if err := a.printJSON(res); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "workload\ttick: %s × %s over %s of %d B, %s (f64.sum of %d)\n",
			counted(o.ticks, "tick", "ticks"), counted(o.deltasPerTick, "delta", "deltas"), counted(o.pages, "page", "pages"), o.pageSize,
			counted(o.derived, "derived page", "derived pages"), o.fanin)
		fmt.Fprintf(tw, "tick latency\tp50 %s  p99 %s  max %s  (budget overruns: %d)\n",
			shortDuration(res.TickP50NS), shortDuration(res.TickP99NS), shortDuration(res.TickMaxNS), res.Overruns)
		fmt.Fprintf(tw, "phases (p50)\tcommit %s  propagate %s\n", shortDuration(res.CommitP50NS), shortDuration(res.PropagateP50NS))
		fmt.Fprintf(tw, "throughput\t%s deltas/s, %s recomputed pages/s (propagate phase)\n", humanCount(res.DeltasPerSec), humanCount(res.RecomputedPerSec))
		fmt.Fprintf(tw, "recomputed\t%s, %s\n", counted(res.Recomputed, "call", "calls"), counted(res.DerivedWrites, "derived write", "derived writes"))
		fmt.Fprintf(tw, "memory\tRSS %.1f MiB, max GC pause %s\n", float64(res.RSSBytes)/(1<<20), shortDuration(res.GCPauseMaxNS))
		if res.ReplayChecked {
			fmt.Fprintf(tw, "replay\tequal=%v\n", res.ReplayEqual)
		}
		tw.Flush()
	}
	if res.ReplayChecked && !res.ReplayEqual {
		return &exitError{code: exitFailure, msg: "replay of the log differs from the live state"}
	}
	return nil
}

// shortDuration formats ns with three significant digits ("1.06ms",
// "35.7µs"), as docs/cli.md shows the tick report: time.Duration's own
// String printed every nanosecond ("1.062426ms"), and throughput under
// 5,000 a second read "0.00M" (now humanCount's "4.2k").
func shortDuration(ns int64) string {
	d := time.Duration(ns)
	r := time.Duration(1)
	for d >= 1000*r && r < time.Second {
		r *= 10
	}
	return d.Round(r).String()
}
