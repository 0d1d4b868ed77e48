package validate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/graph"
)

// GraphView is the dependency structure the Graph validator checks: a copy
// taken from an engine (ViewOf), or built by hand (tests, tools).
type GraphView struct {
	Pages    map[mmsb.PageID]int // live page -> size
	Edges    []mmsb.Edge
	Bindings map[mmsb.PageID]mmsb.Binding
	// HasFunc reports whether a recompute function is registered.
	HasFunc func(name string) bool
}

// ViewOf copies e's pages, edges, bindings and function registry (ErrClosed
// for a closed bus).
func ViewOf(e *mmsb.Bus) (GraphView, error) {
	pages, err := e.Pages()
	if err != nil {
		return GraphView{}, err
	}
	v := GraphView{Pages: map[mmsb.PageID]int{}, Edges: e.Edges(), Bindings: map[mmsb.PageID]mmsb.Binding{}}
	for _, p := range pages {
		v.Pages[p.ID] = p.Size
	}
	for _, id := range e.Bindings() {
		if b, ok := e.Binding(id); ok {
			v.Bindings[id] = b
		}
	}
	v.HasFunc = func(name string) bool { _, ok := e.Func(name); return ok }
	return v, nil
}

// Graph checks the dependency graph: acyclic (graph.CheckAcyclic on a
// graph rebuilt from the edge list without the insert-time cycle check, so
// it is independent of it); every edge's ends exist; every binding's page
// and parents exist and its function is registered; a bound page's Data
// edges are exactly its binding's parents. Checked counts edges plus
// bindings; figure: acyclic_ns (the full cycle check's duration).
func Graph(ctx context.Context, t Target, o Options) (Report, error) {
	if err := begin(ctx, "graph", o); err != nil {
		return Report{Name: "graph"}, err
	}
	e, done, err := t.open(ctx)
	if err != nil {
		return Report{Name: "graph"}, err
	}
	defer done()
	v, err := ViewOf(e)
	if err != nil {
		return Report{Name: "graph"}, err
	}
	start := time.Now()
	r, rep := newReporter("graph", &o)
	if err := checkGraph(ctx, v, r); err != nil {
		return *rep, err
	}
	rep.Duration = time.Since(start)
	return *rep, nil
}

// CheckGraphView runs the Graph validator's checks on v (to the end: it
// takes no context).
func CheckGraphView(v GraphView, o Options) Report {
	start := time.Now()
	r, rep := newReporter("graph", &o)
	_ = checkGraph(context.Background(), v, r) // fails only when its context ends
	rep.Duration = time.Since(start)
	return *rep
}

// checkGraph reports v's problems; it returns ctx's error (wrapped) when
// ctx ends between two edges or bindings.
func checkGraph(ctx context.Context, v GraphView, r *reporter) error {
	g := graph.New()
	dataIn := map[mmsb.PageID][]mmsb.PageID{}
	for k, ed := range v.Edges {
		if k&255 == 255 {
			if err := ctxErr(ctx, "graph"); err != nil {
				return err
			}
		}
		// Formatted only for a problem: the invariants runner calls this
		// on every tick, and on a clean graph nothing is reported.
		where := func() string { return fmt.Sprintf("edge %d -> %d (%v)", ed.Parent, ed.Child, ed.Type) }
		if _, ok := v.Pages[ed.Parent]; !ok {
			r.addf(KindUnresolved, 0, ed.Parent, where(), "edge parent %d does not exist", ed.Parent)
		}
		if _, ok := v.Pages[ed.Child]; !ok {
			r.addf(KindUnresolved, 0, ed.Child, where(), "edge child %d does not exist", ed.Child)
		}
		if ed.Parent == ed.Child {
			r.addf(KindCycle, 0, ed.Child, where(), "self-loop on page %d", ed.Child)
		}
		if ed.Type >= base.NumEdgeTypes {
			r.addf(KindSchema, 0, ed.Child, where(), "unknown edge type %d", ed.Type)
			continue
		}
		if ed.Type == mmsb.EdgeData {
			dataIn[ed.Child] = append(dataIn[ed.Child], ed.Parent)
		}
		if ed.Parent != ed.Child {
			g.AddEdgeUnchecked(ed.Parent, ed.Child, base.EdgeType(ed.Type))
		}
	}
	if err := ctxErr(ctx, "graph"); err != nil {
		return err
	}
	t0 := time.Now()
	if err := g.CheckAcyclic(); err != nil {
		r.addf(KindCycle, 0, 0, "graph", "not acyclic: %v", err)
	}
	r.figure("acyclic_ns", float64(time.Since(t0).Nanoseconds()))
	for k, id := range sortedIDs(v.Bindings) {
		if k&255 == 255 {
			if err := ctxErr(ctx, "graph"); err != nil {
				return err
			}
		}
		b := v.Bindings[id]
		where := func() string { return fmt.Sprintf("binding of page %d (%s)", id, b.Func) }
		if _, ok := v.Pages[id]; !ok {
			r.addf(KindUnresolved, 0, id, where(), "bound page %d does not exist", id)
		}
		if v.HasFunc != nil && !v.HasFunc(b.Func) {
			r.addf(KindUnknownFunc, 0, id, where(), "function %q is not registered", b.Func)
		}
		if len(b.Parents) == 0 {
			r.addf(KindUnresolved, 0, id, where(), "binding has no parents")
		}
		want := slices.Clone(b.Parents)
		for _, p := range b.Parents {
			if _, ok := v.Pages[p]; !ok {
				r.addf(KindUnresolved, 0, id, where(), "parent %d does not exist", p)
			}
		}
		slices.Sort(want)
		want = slices.Compact(want)
		got := slices.Clone(dataIn[id])
		slices.Sort(got)
		if !slices.Equal(got, want) {
			r.addf(KindUnresolved, 0, id, where(), "data edges into page %d come from %v, binding parents are %v", id, got, want)
		}
	}
	r.rep.Checked = int64(len(v.Edges) + len(v.Bindings))
	return nil
}
