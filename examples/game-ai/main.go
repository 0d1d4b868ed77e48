// Command game-ai keeps a flow field toward goals on a 256×256 tile grid as
// derived pages of an MMSB bus, while walls and goals change and 1,024 agents
// follow the field, ticking at 60 Hz through package tick. After every tick it
// checks the field byte for byte against a from-scratch BFS; at every
// checkpoint it replays the recorded session from the previous checkpoint to
// sampled ticks and compares state hashes.
//
//	go run ./examples/game-ai               # results table
//	go run ./examples/game-ai --json        # one JSON object
//	go run ./examples/game-ai --plot DIR    # PNG charts and a picture of the grid
//
// See README.md next to this file.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/examples/internal/chart"
	"github.com/mmsb-go/mmsb/examples/internal/cliflags"
	"github.com/mmsb-go/mmsb/examples/internal/runstat"
	"github.com/mmsb-go/mmsb/tick"
)

// budget is one frame at 60 Hz.
const budget = time.Second / 60

type config struct {
	Seed            uint64
	Map             string
	Goals           int
	Agents          int
	Ticks           int
	EditsPerTick    int  // random wall toggles per tick
	GoalEvery       int  // move a goal every this many ticks
	CheckpointEvery int  // ticks between checkpoints (and replay checks)
	Realtime        bool // pace ticks at 60 Hz
	SweepPages      []int
	Repeats         int
	// Shared runs the bus on disk in a temporary directory with its pages
	// in shared memory, and draws the picture through a shared-memory
	// reader.
	Shared bool
}

// ErrBadFlag: a command-line flag (a config field) out of its range.
var ErrBadFlag = errors.New("bad flag value")

func defaultConfig() config {
	return config{Seed: 1, Map: mapRooms, Goals: 8, Agents: 1024, Ticks: 300, EditsPerTick: 2, GoalEvery: 60,
		CheckpointEvery: 60, Realtime: true, SweepPages: []int{1, 2, 4, 8, 16, 32, 64, 128, 256}, Repeats: 5}
}

type sweepPoint struct {
	Pages         int     `json:"pages_changed"`
	Fraction      float64 `json:"fraction"`
	IncrementalMS float64 `json:"incremental_ms"`
	ComputeMS     float64 `json:"compute_ms"`
	BookkeepingMS float64 `json:"bookkeeping_ms"`
	FullMS        float64 `json:"full_ms"`
	Speedup       float64 `json:"speedup"`
	Recomputed    int     `json:"pages_recomputed"`
}

type slowTick struct {
	Tick       int     `json:"tick"`
	MS         float64 `json:"ms"`
	Recomputed int     `json:"pages_recomputed"`
	GoalMoved  bool    `json:"goal_moved"`
}

type report struct {
	Equal bool `json:"equal"`
	// IncrementalMS: median per tick of the propagation phase (the field's
	// maintenance through the bus); FullMS: median of the from-scratch BFS
	// and flow over the same grid.
	IncrementalMS float64 `json:"incremental_ms"`
	FullMS        float64 `json:"full_ms"`
	Speedup       float64 `json:"speedup"`
	ComputeMS     float64 `json:"compute_ms"`
	BookkeepingMS float64 `json:"bookkeeping_ms"`
	TickP50MS     float64 `json:"tick_p50_ms"`
	TickP99MS     float64 `json:"tick_p99_ms"`
	TickMaxMS     float64 `json:"tick_max_ms"`
	// FirstTicksMaxMS: the largest of the first ten ticks (page faults of
	// memory touched for the first time show here).
	FirstTicksMaxMS   float64      `json:"first_ticks_max_ms"`
	Overruns          int          `json:"overruns"`
	AgentStepMS       float64      `json:"agent_step_ms"`
	BusRecomputeAllMS float64      `json:"bus_recompute_all_ms"`
	SetupMS           float64      `json:"setup_ms"`
	Ticks             int          `json:"ticks"`
	Agents            int          `json:"agents"`
	Pages             int          `json:"pages"`
	Map               string       `json:"map"`
	ReplayChecks      int          `json:"replay_checks"`
	ReplayEqual       bool         `json:"replay_equal"`
	Checkpoints       int          `json:"checkpoints"`
	Crossover         float64      `json:"crossover_fraction"`
	Sweep             []sweepPoint `json:"sweep"`
	Mismatch          string       `json:"mismatch,omitempty"`
	Seed              uint64       `json:"seed"`
	LoadAverage       string       `json:"load_average"`
	// SlowestTicks are the five slowest ticks, slowest first, with what
	// their propagation did: tells work (a goal moved: many fields
	// recomputed) from the machine (a tick that did little but took long).
	SlowestTicks []slowTick `json:"slowest_ticks"`
	// PictureSource says where grid.png's state was read: the bus
	// (ReadPage) or a shared-memory reader's consistent snapshot.
	PictureSource string `json:"picture_source"`
	// Realtime: the ticks were paced at 60 Hz (--realtime); false: they
	// ran back to back, as fast as they went.
	Realtime       bool `json:"realtime"`
	tickMS, propMS []float64
	recomputed     []int
	finalGame      *snapshot
}

// snapshot is what the grid picture shows.
type snapshot struct {
	world  []byte
	field  Field
	agents [][2]int
}

func main() {
	cfg := defaultConfig()
	asJSON := flag.Bool("json", false, "print one JSON object instead of the table")
	plotDir := flag.String("plot", "", "write PNG charts and a picture of the grid to this directory")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the map, the edits and the agents")
	grid := flag.Int("grid", defaultGridSide, "side of the square grid in tiles (a multiple of 16, at most 256)")
	flag.StringVar(&cfg.Map, "map", cfg.Map, "map kind: rooms (walled rooms joined by doors) or open (scattered obstacles)")
	flag.IntVar(&cfg.Ticks, "ticks", cfg.Ticks, "ticks to run")
	flag.IntVar(&cfg.Agents, "agents", cfg.Agents, "agents following the field")
	flag.IntVar(&cfg.EditsPerTick, "edits", cfg.EditsPerTick, "random wall toggles per tick")
	flag.BoolVar(&cfg.Realtime, "realtime", cfg.Realtime, "pace the ticks at 60 Hz (false: back to back)")
	flag.BoolVar(&cfg.Shared, "shared", false, "bus on disk in a temporary directory with shared-memory pages; the picture is read through a shared-memory reader")
	cliflags.Parse()
	if err := checkNoArgs(flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(1)
	}
	if err := cliflags.EmptyValue(flag.CommandLine); err != nil {
		fmt.Fprintln(os.Stderr, errorLine(fmt.Errorf("%w: %w", ErrBadFlag, err)))
		os.Exit(1)
	}
	if err := checkGrid(*grid); err != nil {
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(1)
	}
	undoPlot := func() {}
	if *plotDir != "" {
		// Checked before the run, which the charts come at the end of.
		var err error
		if undoPlot, err = cliflags.OutputDir("plot", *plotDir); err != nil {
			fmt.Fprintln(os.Stderr, errorLine(fmt.Errorf("%w: %w", ErrBadFlag, err)))
			os.Exit(1)
		}
	}
	setGridSide(*grid)
	// Ctrl-C (or SIGTERM) cancels the run, which then closes the bus and
	// removes --shared's temporary directory and shared region: killed
	// outright, it left both behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx, cfg)
	interrupted := ctx.Err() != nil
	stop()
	if interrupted {
		undoPlot() // no charts: no empty directory made for them either
		fmt.Fprintln(os.Stderr, "game-ai: interrupted")
		os.Exit(130)
	}
	if err != nil {
		undoPlot()
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, errorLine(err))
			os.Exit(1)
		}
	} else {
		printTable(os.Stdout, rep)
	}
	if *plotDir != "" {
		if err := writeCharts(*plotDir, rep); err != nil {
			fmt.Fprintln(os.Stderr, errorLine(err))
			os.Exit(1)
		}
	}
	if !rep.Equal || !rep.ReplayEqual {
		os.Exit(2)
	}
}

// Limits of the flags. maxAgents is one agent per tile of the largest
// grid (256 agent pages); maxEdits keeps one tick's deltas (edits, two
// goal moves, one per agent page) well inside the tick intake queue: the
// driver submits them from the goroutine that ticks, so a full queue would
// wait for a drain that never comes.
const (
	maxAgents = defaultGridSide * defaultGridSide
	maxEdits  = 10_000
)

// validate refuses a config the run cannot honour. Before it, --ticks -5
// panicked, --ticks 0 reported NaN speed-ups, negative --agents and
// --edits ran with none, a huge --agents failed deep in a commit and a
// huge --edits deadlocked on the intake queue.
func (c config) validate() error {
	switch {
	case c.Map != mapRooms && c.Map != mapOpen:
		return fmt.Errorf("%w: --map %q: want rooms or open", ErrBadFlag, c.Map)
	case c.Ticks < 1:
		return fmt.Errorf("%w: --ticks %d: want 1 or more", ErrBadFlag, c.Ticks)
	case c.Agents < 0 || c.Agents > maxAgents:
		return fmt.Errorf("%w: --agents %d: want 0 to %d", ErrBadFlag, c.Agents, maxAgents)
	case c.EditsPerTick < 0 || c.EditsPerTick > maxEdits:
		return fmt.Errorf("%w: --edits %d: want 0 to %d", ErrBadFlag, c.EditsPerTick, maxEdits)
	case c.Goals < 1 || c.GoalEvery < 0 || c.CheckpointEvery < 1 || len(c.SweepPages) > 0 && c.Repeats < 1:
		return fmt.Errorf("%w: goals %d, goal every %d ticks, checkpoint every %d ticks, %d repeats", ErrBadFlag,
			c.Goals, c.GoalEvery, c.CheckpointEvery, c.Repeats)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// tickRecord is what the replay check needs of a tick.
type tickRecord struct {
	lsn  mmsb.LSN
	hash uint64
}

func run(ctx context.Context, cfg config) (_ *report, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rep := &report{Equal: true, ReplayEqual: true, Ticks: cfg.Ticks, Agents: cfg.Agents, Map: cfg.Map, Seed: cfg.Seed, Realtime: cfg.Realtime,
		LoadAverage: runstat.LoadAverage()}
	dir := ""
	if cfg.Shared {
		if dir, err = os.MkdirTemp("", "mmsb-game-ai-"); err != nil {
			return nil, err
		}
		defer func() { _ = os.RemoveAll(dir) }() // a temporary directory; the run's result stands
	}
	start := time.Now()
	g, err := newGame(ctx, dir, cfg.Seed, cfg.Map, cfg.Goals, cfg.Agents, noFaults)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, g.Close()) }()
	rep.SetupMS = ms(time.Since(start))
	ids, err := g.bus.PageIDs()
	if err != nil {
		return nil, err
	}
	rep.Pages = len(ids)
	var full Field
	check := func() (time.Duration, error) {
		start := time.Now()
		full.Compute(g.world)
		d := time.Since(start)
		if rep.Mismatch == "" {
			diff, err := g.mismatch(&full)
			if err != nil {
				return 0, err
			}
			if diff != "" {
				rep.Equal, rep.Mismatch = false, diff
			}
		}
		return d, nil
	}
	if _, err := check(); err != nil {
		return nil, err
	}

	records := make([]tickRecord, cfg.Ticks+1)
	lastCheckpointTick := 0
	var fullMS, agentMS, computeMS, bookMS []float64
	replayRng := rand.New(rand.NewPCG(cfg.Seed, 0x7265706c)) //nolint:gosec // sampling ticks to replay
	begin := time.Now()
	for n := 1; n <= cfg.Ticks; n++ {
		if cfg.Realtime {
			if wait := time.Until(begin.Add(time.Duration(n-1) * budget)); wait > 0 {
				time.Sleep(wait)
			}
		}
		if err := g.scriptedEdits(ctx, uint64(n), cfg.EditsPerTick, cfg.GoalEvery); err != nil {
			return nil, err
		}
		stepStart := time.Now()
		if err := g.stepAgents(ctx, uint64(n)); err != nil {
			return nil, err
		}
		agentMS = append(agentMS, ms(time.Since(stepStart)))
		computeBefore := g.timer.total
		res, err := g.orch.Tick(ctx)
		if err != nil {
			return nil, err
		}
		rep.tickMS = append(rep.tickMS, ms(res.Durations[tick.PhaseTotal]))
		prop := res.Durations[tick.PhasePropagate]
		rep.propMS = append(rep.propMS, ms(prop))
		rep.recomputed = append(rep.recomputed, res.Propagation.Recomputed)
		compute := g.timer.total - computeBefore
		computeMS, bookMS = append(computeMS, ms(compute)), append(bookMS, ms(prop-compute))
		if res.Overrun {
			rep.Overruns++
		}
		f, err := check()
		if err != nil {
			return nil, err
		}
		fullMS = append(fullMS, ms(f))
		hash, err := g.bus.StateHash()
		if err != nil {
			return nil, err
		}
		records[n] = tickRecord{lsn: g.bus.LastLSN(), hash: hash}
		if n%cfg.CheckpointEvery == 0 || n == cfg.Ticks {
			// Replay the ticks since the last checkpoint from it (or from
			// LSN 1 before the first), then take the next one.
			samples := []int{n}
			for range 3 {
				samples = append(samples, lastCheckpointTick+1+replayRng.IntN(n-lastCheckpointTick))
			}
			for _, s := range samples {
				ok, err := replayMatches(ctx, g.bus, records[s], lastCheckpointTick == 0)
				if err != nil {
					return nil, fmt.Errorf("replay to tick %d: %w", s, err)
				}
				rep.ReplayChecks++
				rep.ReplayEqual = rep.ReplayEqual && ok
			}
			if n%cfg.CheckpointEvery == 0 {
				if _, err := g.bus.Checkpoint(ctx); err != nil {
					return nil, err
				}
				rep.Checkpoints++
				lastCheckpointTick = n
			}
		}
	}
	rep.IncrementalMS, rep.FullMS = runstat.Median(rep.propMS), runstat.Median(fullMS)
	rep.Speedup = rep.FullMS / rep.IncrementalMS
	rep.ComputeMS, rep.BookkeepingMS, rep.AgentStepMS = runstat.Median(computeMS), runstat.Median(bookMS), runstat.Median(agentMS)
	sorted := slices.Clone(rep.tickMS)
	slices.Sort(sorted)
	if len(sorted) > 0 {
		rep.TickP50MS, rep.TickMaxMS = sorted[len(sorted)/2], sorted[len(sorted)-1]
		rep.TickP99MS = sorted[min(len(sorted)-1, len(sorted)*99/100)]
		rep.FirstTicksMaxMS = slices.Max(rep.tickMS[:min(10, len(rep.tickMS))])
		order := make([]int, len(rep.tickMS))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rep.tickMS[b], rep.tickMS[a]) })
		for _, i := range order[:min(5, len(order))] {
			rep.SlowestTicks = append(rep.SlowestTicks, slowTick{Tick: i + 1, MS: rep.tickMS[i], Recomputed: rep.recomputed[i],
				GoalMoved: cfg.GoalEvery > 0 && (i+1)%cfg.GoalEvery == 0})
		}
	}
	if cfg.Shared {
		var lsn mmsb.LSN
		rep.finalGame, lsn, err = g.readerSnapshot()
		rep.PictureSource = fmt.Sprintf("shared-memory reader, snapshot at LSN %d", lsn)
	} else {
		rep.finalGame, err = g.busSnapshot()
		rep.PictureSource = "Bus.ReadPage"
	}
	if err != nil {
		return nil, err
	}

	if err := sweep(ctx, g, cfg, rep, check); err != nil {
		return nil, err
	}
	return rep, nil
}

// replayMatches rebuilds the bus's state at rec.lsn with mmsb.Replay (from
// the newest checkpoint at or before it, or from LSN 1) and compares state
// hashes.
func replayMatches(ctx context.Context, bus *mmsb.Bus, rec tickRecord, fromEmpty bool) (bool, error) {
	past, err := bus.Replay(ctx, mmsb.ReplayTarget{ToLSN: rec.lsn, FromEmpty: fromEmpty})
	if err != nil {
		return false, err
	}
	defer func() { _ = past.Close() }() // a detached replay: nothing to lose
	h, err := past.StateHash()
	if err != nil {
		return false, err
	}
	return h == rec.hash && past.LastLSN() == rec.lsn, nil
}

// sweep times changing k tile pages at once (one wall toggled inside each)
// against the from-scratch BFS, checking each result.
func sweep(ctx context.Context, g *game, cfg config, rep *report, check func() (time.Duration, error)) error {
	var all []float64
	for _, k := range cfg.SweepPages {
		if k > numPages {
			break
		}
		var pi, pf, pc, pb []float64
		var prec []int
		for range cfg.Repeats {
			for _, p := range g.rng.Perm(numPages)[:k] {
				x0, y0 := pageOrigin(p)
				t := tileAt(x0+1+g.rng.IntN(pageSide-2), y0+1+g.rng.IntN(pageSide-2))
				if err := g.toggleTile(ctx, t); err != nil {
					return err
				}
			}
			computeBefore := g.timer.total
			res, err := g.orch.Tick(ctx)
			if err != nil {
				return err
			}
			prop := res.Durations[tick.PhasePropagate]
			compute := g.timer.total - computeBefore
			f, err := check()
			if err != nil {
				return err
			}
			pi, pf = append(pi, ms(res.Durations[tick.PhaseCommit]+prop)), append(pf, ms(f))
			pc, pb = append(pc, ms(compute)), append(pb, ms(prop-compute))
			prec = append(prec, res.Propagation.Recomputed)
			g.bus.ScheduleResync()
			start := time.Now()
			if _, err := g.orch.FlushPropagation(ctx); err != nil {
				return err
			}
			all = append(all, ms(time.Since(start)))
		}
		slices.Sort(prec)
		sp := sweepPoint{Pages: k, Fraction: float64(k) / float64(numPages), IncrementalMS: runstat.Median(pi), FullMS: runstat.Median(pf),
			ComputeMS: runstat.Median(pc), BookkeepingMS: runstat.Median(pb), Recomputed: prec[len(prec)/2]}
		sp.Speedup = sp.FullMS / sp.IncrementalMS
		if sp.Speedup < 1 && rep.Crossover == 0 {
			rep.Crossover = sp.Fraction
		}
		rep.Sweep = append(rep.Sweep, sp)
	}
	rep.BusRecomputeAllMS = runstat.Median(all)
	return nil
}

// pacing says how the ticks were run: paced at 60 Hz, or (--realtime=false)
// back to back, which the table and chart said was 60 Hz too.
func (rep *report) pacing() string {
	if rep.Realtime {
		return "at 60 Hz"
	}
	return "back to back (--realtime=false, not paced at 60 Hz)"
}

func printTable(w io.Writer, rep *report) {
	fmt.Fprintf(w, "game-ai: %d×%d grid (%s map) in %d pages of %d×%d tiles, %d agents, %d pages on the bus, seed %d, load average %s\n",
		gridSide, gridSide, rep.Map, numPages, pageSide, pageSide, rep.Agents, rep.Pages, rep.Seed, rep.LoadAverage)
	fmt.Fprintf(w, "setup (pages, bindings, first propagation) %.0f ms; %d ticks %s, every one checked against a from-scratch BFS: equal=%v\n",
		rep.SetupMS, rep.Ticks, rep.pacing(), rep.Equal)
	if rep.Mismatch != "" {
		fmt.Fprintf(w, "MISMATCH: %s\n", rep.Mismatch)
	}
	fmt.Fprintf(w, "picture read through: %s\n", rep.PictureSource)
	fmt.Fprintf(w, "replay: %d replays from %d checkpoints (and LSN 1) to sampled ticks, state hash equal=%v\n\n",
		rep.ReplayChecks, rep.Checkpoints, rep.ReplayEqual)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "per tick (median)\tfield, incremental ms\tcompute\tbookkeeping\tfield, full BFS ms\tspeed-up\tagent step ms\t\n")
	fmt.Fprintf(tw, "\t%.3f\t%.3f\t%.3f\t%.3f\t%.1f×\t%.3f\t\n", rep.IncrementalMS, rep.ComputeMS, rep.BookkeepingMS, rep.FullMS, rep.Speedup, rep.AgentStepMS)
	tw.Flush()
	fmt.Fprintf(w, "\nwhole tick: p50 %.2f ms, p99 %.2f ms, max %.2f ms (first ten ticks: max %.2f ms), %d over the 16.7 ms budget\n",
		rep.TickP50MS, rep.TickP99MS, rep.TickMaxMS, rep.FirstTicksMaxMS, rep.Overruns)
	for _, st := range rep.SlowestTicks {
		fmt.Fprintf(w, "  slow tick %d: %.2f ms, %d pages recomputed, goal moved: %v\n", st.Tick, st.MS, st.Recomputed, st.GoalMoved)
	}
	fmt.Fprintf(w, "\nTile pages changed in one tick (one wall toggled in each; median of the runs):\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "pages\tfraction\tincremental ms\tcompute\tbookkeeping\trecomputed\tfull ms\tspeed-up\t\n")
	for _, s := range rep.Sweep {
		fmt.Fprintf(tw, "%d\t%.1f%%\t%.3f\t%.3f\t%.3f\t%d\t%.3f\t%.2f×\t\n", s.Pages, 100*s.Fraction, s.IncrementalMS, s.ComputeMS,
			s.BookkeepingMS, s.Recomputed, s.FullMS, s.Speedup)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nbus recomputing every derived page with nothing changed: %.3f ms\n", rep.BusRecomputeAllMS)
	if rep.Crossover > 0 {
		fmt.Fprintf(w, "crossover: from %.1f%% of the tile pages changed at once, the from-scratch BFS is faster\n", 100*rep.Crossover)
	} else {
		fmt.Fprintf(w, "crossover: none in the swept range\n")
	}
}

func writeCharts(dir string, rep *report) error {
	var x, incr, full, book, compute []float64
	for _, s := range rep.Sweep {
		x = append(x, 100*s.Fraction)
		incr, full = append(incr, s.IncrementalMS), append(full, s.FullMS)
		book, compute = append(book, s.BookkeepingMS), append(compute, s.ComputeMS)
	}
	if err := chart.Lines(filepath.Join(dir, "latency_vs_fraction.png"), chart.Spec{
		Title:  fmt.Sprintf("game-ai (%s map): field update per tick", rep.Map),
		XLabel: "% of tile pages changed in one tick", YLabel: "ms (log)", LogX: true, LogY: true, LegendRight: true, LegendBottom: true,
		Series: []chart.Series{
			{Name: "incremental (bus: commit + wave)", X: x, Y: incr},
			{Name: "from scratch (BFS, plain Go)", X: x, Y: full},
			{Name: "  of the wave: bookkeeping", X: x, Y: book, Dashed: true},
			{Name: "  of the wave: field code", X: x, Y: compute, Dashed: true},
		},
	}); err != nil {
		return err
	}
	ticks := make([]float64, len(rep.tickMS))
	for i := range ticks {
		ticks[i] = float64(i + 1)
	}
	if err := chart.Lines(filepath.Join(dir, "tick_latency.png"), chart.Spec{
		Title:  fmt.Sprintf("game-ai: %d ticks %s, %d agents", rep.Ticks, rep.pacing(), rep.Agents),
		XLabel: "tick", YLabel: "ms (log)", LogY: true, HLine: float64(budget.Microseconds()) / 1000, HLineName: "60 Hz budget", LegendRight: true, Headroom: true,
		Series: []chart.Series{
			{Name: "whole tick", X: ticks, Y: rep.tickMS},
			{Name: "propagation (field)", X: ticks, Y: rep.propMS, Dashed: true},
		},
	}); err != nil {
		return err
	}
	return writeGridPicture(filepath.Join(dir, "grid.png"), rep.finalGame)
}

// errorLine is the line main prints for err: the command's name once. The
// sentinel errors do not repeat it (main used to print "game-ai: game-ai: bad
// flag value: ...").
func errorLine(err error) string { return "game-ai: " + err.Error() }

// checkGrid refuses a --grid the field's pages cannot tile.
func checkGrid(side int) error {
	if side < pageSide || side > defaultGridSide || side%pageSide != 0 {
		return fmt.Errorf("%w: --grid %d: want a multiple of %d between %d and %d", ErrBadFlag, side, pageSide, pageSide, defaultGridSide)
	}
	return nil
}

// checkNoArgs refuses arguments after the flags: every setting is a flag,
// and the flag package stops at the first argument that is none, so the
// flags after it were ignored too. Before, `game-ai open` (meant as --map
// open) ran the rooms map and exited with status 0.
func checkNoArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q (every setting is a flag; see -h)", ErrBadFlag, args[0])
	}
	return nil
}
