package harness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/validate"
	"github.com/mmsb-go/mmsb/tick"
)

func init() {
	register(Benchmark{ID: 8, Key: "invariants", Name: "Invariants", Run: runInvariants, Sizes: []Size{{"cycles", 1_000_000, true}},
		Gates: []string{"max_failures"}})
}

// invariantsConfig sizes benchmark #8. Negative controls: nanAt writes a
// NaN into a float64 page at that cycle (0: never); transientNaNAt writes
// one at that cycle and overwrites it with a finite value the next cycle
// (a violation that lasts one cycle: a sampled check misses it);
// failingUser registers a user invariant that fails in the second half of
// the run; checkEvery runs the validator only every that many cycles (0 or
// 1: every cycle); addEdge, when set, adds the workload's Control edges in
// place of the bus's AddEdge (an insert path that lets a cycle through, or
// fails); skipTickAt leaves that cycle without its tick (0: never), a run
// that did less than it counts; deferred runs the orchestrator in deferred
// mode, never flushed, so no derived page is ever up to date.
type invariantsConfig struct {
	cycles         int
	seed           uint64
	nanAt          int
	transientNaNAt int
	failingUser    bool
	checkEvery     int
	skipTickAt     int
	deferred       bool
	addEdge        func(ctx context.Context, e *mmsb.Bus, parent, child mmsb.PageID) error
}

// invariantsOutcome is what #8 measured.
type invariantsOutcome struct {
	cycles, checks       int
	ticks                int // ticks the orchestrator ran (its own counter)
	failures             int64
	derivedStale         int // checks in which a derived page was not compared with its function (stale: not propagated)
	firstStale           string
	firstFailure         string
	deltas, tickErrors   int
	edgesAdded, removed  int
	cycleAttempts        int // edges that would have closed a cycle
	cyclesRefused        int // ... refused with ErrCycle
	wrongVerdicts        int // refused without a cycle, or accepted with one
	otherErrors          int
	firstWrong           string
	runSec, checkSeconds float64
}

// reaches reports whether to is reachable from from along edges of any
// type (computed here, independently of the engine's insert-time check).
func reaches(e *mmsb.Bus, from, to mmsb.PageID) bool {
	if from == to {
		return true
	}
	seen := map[mmsb.PageID]bool{from: true}
	stack := []mmsb.PageID{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, ed := range e.Children(n) {
			if ed.Child == to {
				return true
			}
			if !seen[ed.Child] {
				seen[ed.Child] = true
				stack = append(stack, ed.Child)
			}
		}
	}
	return false
}

// measureInvariants runs cfg.cycles ticks of random float deltas and random
// graph mutations (including attempted cycles), with the invariant
// validator after every cycle: a violation that lasts one cycle is caught.
func measureInvariants(ctx context.Context, cfg invariantsConfig) (invariantsOutcome, error) {
	var out invariantsOutcome
	e, err := openMem(nil)
	if err != nil {
		return out, err
	}
	defer e.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	const nsrc, nder, elems = 96, 32, 8
	src, err := createF64Pages(ctx, e, nsrc, elems)
	if err != nil {
		return out, err
	}
	der, err := createF64Pages(ctx, e, nder, elems)
	if err != nil {
		return out, err
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 0x1a7))
	for i, id := range der {
		ps := []mmsb.PageID{src[rng.IntN(nsrc)], src[rng.IntN(nsrc)]}
		if ps[0] == ps[1] {
			ps = ps[:1]
		}
		if err := e.Bind(ctx, id, "f64.sum", nil, ps); err != nil {
			return out, fmt.Errorf("bind %d: %w", i, err)
		}
	}
	// Give every source page non-zero values and derive every bound page
	// once, so that from the first cycle each derived page has a logged
	// derivation that read its parents' current bytes, and the
	// derived-consistent invariant compares it. (A recompute whose output
	// equals the page's bytes, as f64.sum of zero pages does, logs no
	// write: the page then has no derivation the invariant can judge.)
	// A generator of its own, so the workload below stays as it was.
	initRNG := rand.New(rand.NewPCG(cfg.seed, 0x1a8))
	ds := make([]delta.Delta, len(src))
	for i, id := range src {
		vals := make([]float64, elems)
		for k := range vals {
			vals[k] = initRNG.Float64() + 0.5 // in [0.5, 1.5): never 0
		}
		ds[i] = delta.Delta{Page: id, Runs: []delta.Run{{Data: semiring.AppendF64(nil, vals...)}}}
	}
	if _, err := e.Commit(ctx, ds); err != nil {
		return out, err
	}
	if _, err := e.Propagate(ctx); err != nil {
		return out, err
	}
	all := append(append([]mmsb.PageID(nil), src...), der...)
	o, err := tick.New(e, &tick.Options{QueueSize: 64, Budget: time.Hour, Deferred: cfg.deferred})
	if err != nil {
		return out, err
	}
	defer o.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	iv := validate.NewInvariants()
	if cfg.failingUser {
		half := cfg.cycles / 2
		if err := iv.Register("harness.fails-late", func(*mmsb.Bus) error {
			if out.cycles > half {
				return errors.New("deliberate violation (negative control)")
			}
			return nil
		}); err != nil {
			return out, err
		}
	}
	note := func(format string, args ...any) {
		out.wrongVerdicts++
		if out.firstWrong == "" {
			out.firstWrong = fmt.Sprintf(format, args...)
		}
	}
	tryEdge := func(p, c mmsb.PageID) {
		wouldCycle := reaches(e, c, p)
		var err error
		if cfg.addEdge != nil {
			err = cfg.addEdge(ctx, e, p, c)
		} else {
			err = e.AddEdge(ctx, p, c, mmsb.EdgeControl)
		}
		refused := errors.Is(err, mmsb.ErrCycle)
		if wouldCycle {
			out.cycleAttempts++
			if refused {
				out.cyclesRefused++
			} else {
				note("edge %d -> %d closes a cycle but was not refused (err %v)", p, c, err)
			}
			return
		}
		switch {
		case refused:
			note("edge %d -> %d refused as a cycle but closes none", p, c)
		case err != nil:
			out.otherErrors++
		default:
			out.edgesAdded++
		}
	}
	var d delta.Delta
	run := []delta.Run{{}}
	buf := make([]byte, 16)
	t0 := time.Now()
	for c := 1; c <= cfg.cycles; c++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out.cycles = c
		for k := 1 + rng.IntN(3); k > 0; k-- {
			semiring.PutF64(buf, 0, rng.Float64()*2-1)
			semiring.PutF64(buf, 1, rng.Float64()*2-1)
			if c == cfg.nanAt && k == 1 {
				semiring.PutF64(buf, 0, math.NaN())
			}
			run[0] = delta.Run{Offset: uint32(8 * rng.IntN(elems-1)), Data: buf}
			d = delta.Delta{Page: src[rng.IntN(nsrc)], Runs: run}
			if err := o.Submit(ctx, &d); err != nil {
				return out, err
			}
			out.deltas++
		}
		if cfg.transientNaNAt != 0 && (c == cfg.transientNaNAt || c == cfg.transientNaNAt+1) {
			v := math.NaN()
			if c == cfg.transientNaNAt+1 {
				v = 0.5 // repaired: from the next cycle on the state is clean again
			}
			d = delta.Delta{Page: src[0], Runs: []delta.Run{{Offset: 0, Data: semiring.AppendF64(nil, v)}}}
			if err := o.Submit(ctx, &d); err != nil {
				return out, err
			}
			out.deltas++
		}
		switch x := rng.IntN(10); {
		case x < 4: // a random edge, which may or may not close a cycle
			tryEdge(all[rng.IntN(len(all))], all[rng.IntN(len(all))])
		case x < 6: // a deliberate cycle: from below an edge back to its parent
			edges := e.Edges()
			if len(edges) == 0 {
				break
			}
			ed := edges[rng.IntN(len(edges))]
			low := ed.Child
			for hops := rng.IntN(4); hops > 0; hops-- {
				ch := e.Children(low)
				if len(ch) == 0 {
					break
				}
				low = ch[rng.IntN(len(ch))].Child
			}
			tryEdge(low, ed.Parent)
		case x < 8: // remove a random Control edge
			edges := e.Edges()
			for tries := 0; tries < 4 && len(edges) > 0; tries++ {
				ed := edges[rng.IntN(len(edges))]
				if ed.Type != mmsb.EdgeControl {
					continue
				}
				if err := e.RemoveEdge(ctx, ed.Parent, ed.Child, ed.Type); err != nil {
					out.otherErrors++
				} else {
					out.removed++
				}
				break
			}
		}
		if c != cfg.skipTickAt {
			if _, err := o.Tick(ctx); err != nil {
				out.tickErrors++
			}
		}
		if cfg.checkEvery > 1 && c%cfg.checkEvery != 0 {
			continue
		}
		t := time.Now()
		rep, err := iv.Check(ctx, e, validate.Options{})
		out.checkSeconds += time.Since(t).Seconds()
		if err != nil {
			return out, err
		}
		out.checks++
		out.failures += rep.Total
		// Every derived page is propagated by the tick just run, so the
		// derived-consistent invariant must have compared every one: a
		// stale page is skipped by it, never failed, and a bus that stopped
		// propagating passed this benchmark with 0 failures.
		if bound, compared := len(e.Bindings()), figureOr(rep, "derived_compared", -1); compared != float64(bound) {
			out.derivedStale++
			if out.firstStale == "" {
				out.firstStale = fmt.Sprintf("cycle %d: %g of %d derived pages compared with their function (the others not up to date)", c, compared, bound)
			}
		}
		if rep.Total > 0 && out.firstFailure == "" {
			out.firstFailure = fmt.Sprintf("cycle %d: %s", c, rep.Problems[0])
		}
	}
	out.runSec = time.Since(t0).Seconds()
	out.ticks = int(o.Metrics().Ticks)
	return out, nil
}

func runInvariants(ctx context.Context, env *Env, r *Result) error {
	return invariantsBench(ctx, env, r, invariantsConfig{cycles: env.Int("cycles"), seed: env.Seed})
}

// invariantsBench runs #8 with cfg and records its checks.
func invariantsBench(ctx context.Context, env *Env, r *Result, cfg invariantsConfig) error {
	out, err := measureInvariants(ctx, cfg)
	if err != nil {
		return err
	}
	r.Metric("cycles", float64(out.cycles))
	r.Metric("checks", float64(out.checks))
	r.Metric("ticks", float64(out.ticks))
	r.Metric("failures", float64(out.failures))
	r.Metric("deltas", float64(out.deltas))
	r.Metric("edges_added", float64(out.edgesAdded))
	r.Metric("edges_removed", float64(out.removed))
	r.Metric("cycle_attempts", float64(out.cycleAttempts))
	r.Metric("cycles_refused", float64(out.cyclesRefused))
	r.Metric("run_seconds", out.runSec)
	r.Metric("check_seconds", out.checkSeconds)
	maxFail := env.Threshold("max_failures")
	// Cycles done are the ticks the orchestrator counted, not the loop's
	// counter, which equals the configured count whenever the run returns.
	r.Semantic("checks_every_cycle", out.checks == cfg.cycles && out.ticks == cfg.cycles, float64(out.checks),
		fmt.Sprintf("the invariant validator ran after each of the %d cycles, each a tick (%d ticks run)", cfg.cycles, out.ticks))
	r.Semantic("failures", float64(out.failures) <= maxFail, float64(out.failures), fmt.Sprintf("<= %g over %d checks", maxFail, out.checks))
	r.Semantic("cycles_refused", out.cycleAttempts > 0 && out.cyclesRefused == out.cycleAttempts && out.wrongVerdicts == 0,
		float64(out.cyclesRefused), fmt.Sprintf("all %d attempted cycles refused with ErrCycle, no acyclic edge refused", out.cycleAttempts))
	r.Semantic("derived_compared", out.derivedStale == 0 && out.checks > 0, float64(out.derivedStale),
		fmt.Sprintf("every derived page up to date and compared with its function at each of the %d checks (checks short of it: %d)", out.checks, out.derivedStale))
	r.Semantic("operations_ok", out.tickErrors == 0 && out.otherErrors == 0, float64(out.tickErrors+out.otherErrors), "every tick and mutation succeeded")
	r.Summary = fmt.Sprintf("%d cycles (%d deltas, +%d/-%d edges), %d checks: %d failures; %d/%d attempted cycles refused",
		out.cycles, out.deltas, out.edgesAdded, out.removed, out.checks, out.failures, out.cyclesRefused, out.cycleAttempts)
	if out.firstFailure != "" {
		r.Summary += "; first: " + out.firstFailure
	}
	if out.firstStale != "" {
		r.Summary += "; " + out.firstStale
	}
	if out.firstWrong != "" {
		r.Summary += "; " + out.firstWrong
	}
	return nil
}

// figureOr returns a validator report's figure, or def when it has none.
func figureOr(rep validate.Report, name string, def float64) float64 {
	if v, ok := rep.Figure(name); ok {
		return v
	}
	return def
}
