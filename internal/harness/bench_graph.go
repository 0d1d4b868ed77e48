package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/validate"
)

func init() {
	register(Benchmark{ID: 3, Key: "graph", Name: "Graph", Run: runGraph, Sizes: []Size{{"pages", 1_000_000, false}, {"large_pages", 10_000_000, true}},
		Gates: []string{"max_cycle_detect_ms", "max_validation_ms_per_page"},
		Limits: func(size func(string) float64) error {
			// One page has no edge to close into a cycle: with pages 1
			// cycle_refused failed as if the engine had let a cycle in,
			// and with large_pages 1 the large graph held no page at all
			// (its verdict passed over nothing, its gate read +Inf).
			for _, n := range []string{"pages", "large_pages"} {
				if v := size(n); v < 2 {
					return fmt.Errorf("%s %g is under the 2 pages a cycle needs", n, v)
				}
			}
			return nil
		}})
}

// graphConfig sizes benchmark #3. The hooks are negative controls:
// acyclic replaces the cycle detector under test, and mutateView edits the
// engine's graph view before validation (e.g. a dangling edge), and
// closeEdge adds the injected cycle's closing edge to the bus in place of
// its AddEdge (an insert path that lets a cycle through).
type graphConfig struct {
	pages, large, degree int
	seed                 uint64
	acyclic              func(*graph.Graph) error
	mutateView           func(*validate.GraphView)
	closeEdge            func(ctx context.Context, e *mmsb.Bus, parent, child mmsb.PageID) error
}

// graphOutcome is what #3 measured.
type graphOutcome struct {
	pages, edges, bindings int
	buildSec               float64
	validation             time.Duration // full graph validation of the engine (view + checks)
	validationProblems     int64
	firstProblem           string
	cycleDetect            time.Duration // median CheckAcyclic over the engine's edges
	acyclicVerdict         error
	injectedFound          bool // CheckAcyclic found the injected cycle
	validatorFound         bool // the graph validator reported it too
	engineRefused          bool // the engine refused the closing edge with ErrCycle
	validatedPages         int  // pages in the view the validator checked (the timings are per these)
	validatedItems         int64
	busPages, busItems     int // what the bus holds: pages, and edges + bindings
	largePages, largeEdges int
	largeDetect            time.Duration
	largeVerdict           error
	largeInjectedFound     bool
}

// dagEdges calls add for about degree random parent -> child edges per
// page 2..n, every parent smaller than its child (so acyclic), drawn from
// the 1000 pages before the child so that paths are long.
func dagEdges(n, degree int, seed uint64, add func(parent, child mmsb.PageID)) {
	rng := rand.New(rand.NewPCG(seed, 0x96a9))
	for c := 2; c <= n; c++ {
		k := min(degree, c-1)
		for i := 0; i < k; i++ {
			lo := max(1, c-1000)
			add(mmsb.PageID(lo+rng.IntN(c-lo)), mmsb.PageID(c))
		}
	}
}

// longPath follows first children from start for up to hops hops and
// returns the last page reached.
func longPath(g *graph.Graph, start mmsb.PageID, hops int) mmsb.PageID {
	cur := start
	var buf []graph.Edge
	for i := 0; i < hops; i++ {
		buf = g.AppendChildren(buf[:0], cur)
		if len(buf) == 0 {
			break
		}
		cur = buf[0].Child
	}
	return cur
}

// medianDuration times runs calls of f and returns their median, by
// nearest rank as every harness percentile is (percentile(…, 50): for an
// even count the lower of the two middle samples).
func medianDuration(runs int, f func()) time.Duration {
	ds := make([]time.Duration, runs)
	for i := range ds {
		t := time.Now()
		f()
		ds[i] = time.Since(t)
	}
	slices.Sort(ds)
	return percentile(ds, 50)
}

// measureGraph builds the bus graph, validates it, times cycle detection,
// and checks that an injected cycle is caught three ways.
func measureGraph(ctx context.Context, cfg graphConfig) (graphOutcome, error) {
	out := graphOutcome{pages: cfg.pages}
	detect := cfg.acyclic
	if detect == nil {
		detect = (*graph.Graph).CheckAcyclic
	}
	e, err := openMem(nil)
	if err != nil {
		return out, err
	}
	defer e.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	t0 := time.Now()
	ids, err := createF64Pages(ctx, e, cfg.pages, 4)
	if err != nil {
		return out, err
	}
	// One page in ten is a derived page (f64.sum of its first two
	// parents: Data edges from a binding); the other edges are Control
	// edges. Edges are added child by child in ID order, so the insert-time
	// cycle search starts from a page with no children yet.
	var parents []mmsb.PageID
	cur := mmsb.PageID(0)
	flush := func() error {
		if cur == 0 || len(parents) == 0 {
			return nil
		}
		slices.Sort(parents)
		parents = slices.Compact(parents)
		if cur%10 == 0 && len(parents) >= 2 {
			out.bindings++
			out.edges += 2
			if err := e.Bind(ctx, cur, "f64.sum", nil, parents[:2]); err != nil {
				return err
			}
			parents = parents[2:]
		}
		for _, p := range parents {
			if err := e.AddEdge(ctx, p, cur, mmsb.EdgeControl); err != nil {
				return err
			}
			out.edges++
		}
		parents = parents[:0]
		return nil
	}
	var addErr error
	dagEdges(cfg.pages, cfg.degree, cfg.seed, func(p, c mmsb.PageID) {
		if addErr != nil {
			return
		}
		if c != cur {
			addErr = flush()
			cur = c
		}
		parents = append(parents, ids[p-1])
	})
	if addErr == nil {
		addErr = flush()
	}
	if addErr != nil {
		return out, addErr
	}
	out.buildSec = time.Since(t0).Seconds()

	// Full validation, as `validate.Graph` does it on a live bus: copy the
	// pages, edges and bindings, then check acyclicity and resolvability.
	t1 := time.Now()
	view, err := validate.ViewOf(e)
	if err != nil {
		return out, err
	}
	if cfg.mutateView != nil {
		cfg.mutateView(&view)
	}
	rep := validate.CheckGraphView(view, validate.Options{})
	out.validation = time.Since(t1)
	// The per-page timings are per page validated, and the validator must
	// have seen the whole graph: divided by the configured page count, a
	// view that lost most of the graph passed the timing gates.
	out.validatedPages, out.validatedItems = len(view.Pages), rep.Checked
	out.busPages, out.busItems = e.Stats().Pages, len(e.Edges())+len(e.Bindings())
	out.validationProblems = rep.Total
	if len(rep.Problems) > 0 {
		out.firstProblem = rep.Problems[0].String()
	}

	// Cycle detection alone, on the engine's edges.
	g := graph.New()
	for _, ed := range view.Edges {
		g.AddEdgeUnchecked(ed.Parent, ed.Child, base.EdgeType(ed.Type))
	}
	out.cycleDetect = medianDuration(5, func() { out.acyclicVerdict = detect(g) })

	// Inject a cycle: an edge from the end of a long path back to its start.
	start := ids[0]
	end := longPath(g, start, 64)
	g.AddEdgeUnchecked(end, start, base.EdgeControl)
	out.injectedFound = errors.Is(detect(g), graph.ErrCycle)
	bad := view
	bad.Edges = append(slices.Clone(view.Edges), mmsb.Edge{Parent: end, Child: start, Type: mmsb.EdgeControl})
	out.validatorFound = validate.CheckGraphView(bad, validate.Options{}).Total > out.validationProblems
	closeEdge := cfg.closeEdge
	if closeEdge == nil {
		closeEdge = func(ctx context.Context, e *mmsb.Bus, p, c mmsb.PageID) error {
			return e.AddEdge(ctx, p, c, mmsb.EdgeControl)
		}
	}
	out.engineRefused = errors.Is(closeEdge(ctx, e, end, start), mmsb.ErrCycle) && end != start

	// Large graph: acyclicity of cfg.large pages, built directly.
	if cfg.large > 0 {
		lg := graph.New()
		dagEdges(cfg.large, cfg.degree, cfg.seed+1, func(p, c mmsb.PageID) {
			if lg.AddEdgeUnchecked(p, c, base.EdgeControl) {
				out.largeEdges++
			}
		})
		out.largePages = lg.NumNodes()
		out.largeDetect = medianDuration(3, func() { out.largeVerdict = detect(lg) })
		lend := longPath(lg, 1, 256)
		lg.AddEdgeUnchecked(lend, 1, base.EdgeData)
		out.largeInjectedFound = errors.Is(detect(lg), graph.ErrCycle)
	}
	return out, nil
}

func runGraph(ctx context.Context, env *Env, r *Result) error {
	return graphBench(ctx, env, r, graphConfig{pages: env.Int("pages"), large: env.Int("large_pages"), degree: 4, seed: env.Seed})
}

// graphBench runs #3 with cfg and records its checks.
func graphBench(ctx context.Context, env *Env, r *Result, cfg graphConfig) error {
	out, err := measureGraph(ctx, cfg)
	if err != nil {
		return err
	}
	// Per page validated (a view of 0 pages gives +Inf: it fails).
	perPage := float64(out.validation) / 1e6 / float64(out.validatedPages)
	detectPer10k := float64(out.cycleDetect) / 1e6 * 10000 / float64(out.validatedPages)
	largeMs := float64(out.largeDetect) / 1e6
	r.Metric("pages", float64(out.pages))
	r.Metric("edges", float64(out.edges))
	r.Metric("bindings", float64(out.bindings))
	r.Metric("build_seconds", out.buildSec)
	r.Metric("validation_ms", float64(out.validation)/1e6)
	r.Metric("validation_ms_per_page", perPage)
	r.Metric("cycle_detect_ms", float64(out.cycleDetect)/1e6)
	r.Metric("cycle_detect_ms_per_10k", detectPer10k)
	r.Metric("large_pages", float64(out.largePages))
	r.Metric("large_edges", float64(out.largeEdges))
	r.Metric("large_cycle_detect_ms", largeMs)
	// Per 10k pages of the large graph as built (NumNodes, not the
	// configured size; 0 pages gives +Inf, which fails).
	largePer10k := largeMs * 10000 / float64(out.largePages)
	r.Metric("large_cycle_detect_ms_per_10k", largePer10k)
	r.Metric("validated_pages", float64(out.validatedPages))
	r.Semantic("validated_whole_graph", out.validatedPages == out.busPages && out.validatedItems == int64(out.busItems) && out.busPages > 0,
		float64(out.validatedPages), fmt.Sprintf("the validator checked every page (%d) and every edge and binding (%d) of the bus", out.busPages, out.busItems))
	r.Semantic("graph_valid", out.validationProblems == 0, float64(out.validationProblems), "0 problems (acyclic; every edge and binding resolves)")
	r.Semantic("acyclic_verdict", out.acyclicVerdict == nil, boolf(out.acyclicVerdict == nil), "acyclic graph reported acyclic")
	r.Semantic("cycle_detected", out.injectedFound && out.validatorFound, boolf(out.injectedFound && out.validatorFound), "injected cycle found by CheckAcyclic and by the graph validator")
	r.Semantic("cycle_refused", out.engineRefused, boolf(out.engineRefused), "engine refuses the closing edge with ErrCycle")
	if cfg.large > 0 {
		r.Semantic("large_verdict", out.largeVerdict == nil && out.largeInjectedFound, boolf(out.largeVerdict == nil && out.largeInjectedFound),
			fmt.Sprintf("%d-page graph: acyclic, and an injected cycle is found", out.largePages))
	}
	maxPer, maxDetect := env.Threshold("max_validation_ms_per_page"), env.Threshold("max_cycle_detect_ms")
	r.Timing("validation_ms_per_page", perPage < maxPer, perPage, "ms/page", fmt.Sprintf("< %g ms/page", maxPer))
	r.Timing("cycle_detect_ms_per_10k", detectPer10k < maxDetect, detectPer10k, "ms", fmt.Sprintf("< %g ms per 10k pages", maxDetect))
	// The target's "cycle-detect < 10 ms per 10k pages" holds at scale
	// too: the large graph's detection, timed and printed, was not gated.
	if cfg.large > 0 {
		r.Timing("large_cycle_detect_ms_per_10k", largePer10k < maxDetect, largePer10k, "ms",
			fmt.Sprintf("< %g ms per 10k pages, on the %d-page graph", maxDetect, out.largePages))
	}
	r.Summary = fmt.Sprintf("%d pages, %d edges: validation %.4f ms/page, cycle-detect %.2f ms/10k; %d pages (%d edges) acyclic in %.0f ms; injected cycle caught",
		out.pages, out.edges, perPage, detectPer10k, out.largePages, out.largeEdges, largeMs)
	if !out.injectedFound || !out.validatorFound || !out.engineRefused {
		r.Summary = r.Summary[:len(r.Summary)-len("; injected cycle caught")] + "; injected cycle MISSED"
	}
	if out.firstProblem != "" {
		r.Summary += "; first problem: " + out.firstProblem
	}
	return nil
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
