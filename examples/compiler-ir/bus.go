package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mmsb-go/mmsb"
)

// faults are deliberate mistakes in how the bus is wired, for the negative
// controls: a checker that cannot see them would prove nothing.
type faults struct {
	// wrongEdge >= 0: that function's analyses read a wrong callee (the
	// first callee replaced by the next function in index order that is not
	// already a callee and keeps the graph acyclic).
	wrongEdge int
	// missingBinding >= 0: that function's analysis pages are never bound.
	missingBinding int
}

var noFaults = faults{wrongEdge: -1, missingBinding: -1}

// busAnalyzer keeps a program's analyses as derived pages of a bus.
type busAnalyzer struct {
	bus   *mmsb.Bus
	timer *computeTimer
	prog  *Program // the current program (the model edits are applied to)
	rank  []int    // position in a topological order (callees first) fixed at build
	order []int
	f     faults

	ir, reach, depth, facts []mmsb.PageID
	scratch                 []byte
}

// newBusAnalyzer creates one IR page and three analysis pages per function of
// p on an in-memory bus, binds the analyses along the call graph, commits the
// IR and propagates once.
func newBusAnalyzer(ctx context.Context, p *Program, f faults) (*busAnalyzer, error) {
	order, err := p.TopoOrder()
	if err != nil {
		return nil, err
	}
	a := &busAnalyzer{timer: &computeTimer{}, prog: p.Clone(), order: order, rank: make([]int, len(order)), f: f}
	for i, fn := range order {
		a.rank[fn] = i
	}
	a.bus, err = mmsb.Open("", &mmsb.Options{Functions: a.timer.functions(), CheckpointBytes: -1})
	if err != nil {
		return nil, err
	}
	n := len(p.Funcs)
	specs := make([]mmsb.PageSpec, 0, 4*n)
	for _, size := range []int{irPageSize, reachPageSize(n), depthPageSize, factsPageSize} {
		for range n {
			specs = append(specs, mmsb.PageSpec{Size: size})
		}
	}
	ids, err := a.bus.CreatePages(ctx, specs)
	if err != nil {
		_ = a.bus.Close() // the error that stopped the build matters more
		return nil, err
	}
	a.ir, a.reach, a.depth, a.facts = ids[:n], ids[n:2*n], ids[2*n:3*n], ids[3*n:]
	for fn := range n {
		if err := a.bind(ctx, fn); err != nil {
			_ = a.bus.Close() // the error that stopped the build matters more
			return nil, err
		}
	}
	ds := make([]mmsb.Delta, n)
	for fn := range n {
		ds[fn] = mmsb.Write(a.ir[fn], 0, appendIRPage(nil, &a.prog.Funcs[fn]))
	}
	if _, err := a.bus.Commit(ctx, ds); err != nil {
		_ = a.bus.Close() // the error that stopped the build matters more
		return nil, err
	}
	if _, err := a.bus.Propagate(ctx); err != nil {
		_ = a.bus.Close() // the error that stopped the build matters more
		return nil, err
	}
	return a, nil
}

func (a *busAnalyzer) Close() error { return a.bus.Close() }

// parents returns the parents of fn's page of one analysis: its IR page, then
// that analysis's pages of its distinct callees, ascending.
func (a *busAnalyzer) parents(fn int, pages []mmsb.PageID) []mmsb.PageID {
	callees := a.prog.Funcs[fn].callees()
	if fn == a.f.wrongEdge && len(callees) > 0 {
		callees[0] = a.wrongCallee(fn, callees)
		slices.Sort(callees)
	}
	ps := []mmsb.PageID{a.ir[fn]}
	for _, c := range callees {
		ps = append(ps, pages[c])
	}
	return ps
}

// wrongCallee picks a function that is not a callee of fn and comes before
// it in the topological order (so the wrong edge closes no cycle).
func (a *busAnalyzer) wrongCallee(fn int, callees []int) int {
	for r := a.rank[fn] - 1; r >= 0; r-- {
		if c := a.order[r]; !slices.Contains(callees, c) {
			return c
		}
	}
	return callees[0] // no other choice: the fault cannot be injected
}

// bind binds fn's three analysis pages.
func (a *busAnalyzer) bind(ctx context.Context, fn int) error {
	if fn == a.f.missingBinding {
		return nil
	}
	if err := a.bus.Bind(ctx, a.reach[fn], fnReach, reachParams(fn), a.parents(fn, a.reach)); err != nil {
		return fmt.Errorf("bind reach of %s: %w", a.prog.Funcs[fn].Name, err)
	}
	if err := a.bus.Bind(ctx, a.depth[fn], fnDepth, nil, a.parents(fn, a.depth)); err != nil {
		return fmt.Errorf("bind depth of %s: %w", a.prog.Funcs[fn].Name, err)
	}
	if err := a.bus.Bind(ctx, a.facts[fn], fnFacts, nil, a.parents(fn, a.facts)); err != nil {
		return fmt.Errorf("bind facts of %s: %w", a.prog.Funcs[fn].Name, err)
	}
	return nil
}

func (a *busAnalyzer) unbind(ctx context.Context, fn int) error {
	if fn == a.f.missingBinding {
		return nil
	}
	for _, pages := range [][]mmsb.PageID{a.reach, a.depth, a.facts} {
		if err := a.bus.Unbind(ctx, pages[fn]); err != nil {
			return err
		}
	}
	return nil
}

// editTiming splits the cost of one batch of edits.
type editTiming struct {
	Rebind, Commit, Propagate, Compute time.Duration
	Recomputed, Cutoffs, Writes        int
	// Visited: Data-edge descendants of the edited pages that the wave put
	// in topological order, recomputed or not.
	Visited int
}

// Total is the whole incremental latency: rebinding, commit and propagation.
func (t editTiming) Total() time.Duration { return t.Rebind + t.Commit + t.Propagate }

// Bookkeeping is the propagation's own cost: ordering, input copies, diffing
// and logging, everything but the analyses' code.
func (t editTiming) Bookkeeping() time.Duration { return t.Propagate - t.Compute }

// apply replaces the listed functions by their versions in next (a program
// with the same functions), as one commit and one propagation wave. Calls
// that changed are rebound (Unbind, Bind) before the commit.
func (a *busAnalyzer) apply(ctx context.Context, next *Program, changed []int) (editTiming, error) {
	var t editTiming
	olds := make([][]byte, len(changed))
	for i, fn := range changed {
		olds[i] = appendIRPage(nil, &a.prog.Funcs[fn])
	}
	start := time.Now()
	for _, fn := range changed {
		if !slices.Equal(a.prog.Funcs[fn].callees(), next.Funcs[fn].callees()) {
			if err := a.unbind(ctx, fn); err != nil {
				return t, err
			}
			a.prog.Funcs[fn] = cloneFunction(&next.Funcs[fn])
			if err := a.bind(ctx, fn); err != nil {
				return t, err
			}
		}
	}
	t.Rebind = time.Since(start)
	start = time.Now()
	ds := make([]mmsb.Delta, 0, len(changed))
	for i, fn := range changed {
		a.prog.Funcs[fn] = cloneFunction(&next.Funcs[fn])
		a.scratch = appendIRPage(a.scratch[:0], &a.prog.Funcs[fn])
		d, err := mmsb.Diff(a.ir[fn], olds[i], a.scratch)
		if err != nil {
			return t, err
		}
		if len(d.Runs) > 0 {
			ds = append(ds, d)
		}
	}
	if len(ds) > 0 {
		if _, err := a.bus.Commit(ctx, ds); err != nil {
			return t, err
		}
	}
	t.Commit = time.Since(start)
	computeBefore := a.timer.total
	start = time.Now()
	res, err := a.bus.Propagate(ctx)
	if err != nil {
		return t, err
	}
	t.Propagate = time.Since(start)
	t.Compute = a.timer.total - computeBefore
	t.Recomputed, t.Cutoffs, t.Writes, t.Visited = res.Recomputed, res.Cutoffs, len(res.Writes), res.Visited
	return t, nil
}

func cloneFunction(f *Function) Function {
	return Function{Name: f.Name, Frame: f.Frame, Body: slices.Clone(f.Body)}
}

// recomputeAll times a propagation wave that recomputes every analysis page
// although nothing changed (Bus.ScheduleResync): the bus's cost of
// recomputing everything, all of it ending in early cutoffs.
func (a *busAnalyzer) recomputeAll(ctx context.Context) (editTiming, error) {
	a.bus.ScheduleResync()
	computeBefore := a.timer.total
	start := time.Now()
	res, err := a.bus.Propagate(ctx)
	if err != nil {
		return editTiming{}, err
	}
	t := editTiming{Propagate: time.Since(start), Compute: a.timer.total - computeBefore}
	t.Recomputed, t.Cutoffs, t.Writes = res.Recomputed, res.Cutoffs, len(res.Writes)
	return t, nil
}

// mismatch describes the first difference between the bus's analysis pages and
// want, or returns "" when every page is byte-identical.
func (a *busAnalyzer) mismatch(want *Results) (string, error) {
	for fn := range a.prog.Funcs {
		for _, c := range []struct {
			name string
			id   mmsb.PageID
			want []byte
		}{{"reach", a.reach[fn], want.Reach[fn]}, {"depth", a.depth[fn], want.Depth[fn]}, {"facts", a.facts[fn], want.Facts[fn]}} {
			got, _, err := a.bus.ReadPage(c.id, a.scratch[:0])
			if err != nil {
				return "", err
			}
			a.scratch = got
			if !bytes.Equal(got, c.want) {
				return fmt.Sprintf("%s of %s (page %d) differs from the from-scratch analysis", c.name, a.prog.Funcs[fn].Name, c.id), nil
			}
		}
	}
	return "", nil
}

// randomEdit changes function fn of p in place: a constant, the frame size,
// an added or removed call, or an arg/store toggled. An added call goes to a
// function earlier in the fixed topological order (rank), so the call graph
// stays acyclic.
func randomEdit(rng *rand.Rand, p *Program, rank, order []int, fn int) {
	f := &p.Funcs[fn]
	room := len(f.Body) < MaxInstrs
	switch k := rng.IntN(5); {
	case k == 0 || !room && k != 3:
		if i := slices.IndexFunc(f.Body, func(in Instr) bool { return in.Op == OpConst }); i >= 0 {
			f.Body[i].Arg = int64(rng.IntN(100))
		} else {
			f.Frame += 8
		}
	case k == 1:
		f.Frame = uint32(16 + 8*rng.IntN(32))
	case k == 2 && rank[fn] > 0:
		callee := order[rank[fn]-1-rng.IntN(min(rank[fn], 20))]
		f.Body = append(f.Body, Instr{Op: OpCall, Arg: int64(callee)})
	case k == 3:
		if i := slices.IndexFunc(f.Body, func(in Instr) bool { return in.Op == OpCall }); i >= 0 {
			f.Body = slices.Delete(f.Body, i, i+1)
		} else {
			f.Frame += 8
		}
	default:
		op := OpArg
		if rng.IntN(2) == 0 {
			op = OpStore
		}
		if i := slices.IndexFunc(f.Body, func(in Instr) bool { return in.Op == op }); i >= 0 {
			f.Body = slices.Delete(f.Body, i, i+1)
		} else {
			f.Body = append(f.Body, Instr{Op: op})
		}
	}
}
