package graph

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"pgregory.net/rapid"
)

// model is a brute-force edge set the graph is checked against.
type model map[Edge]bool

func (m model) reaches(from, to base.PageID, types *[base.NumEdgeTypes]bool) bool {
	seen := map[base.PageID]bool{from: true}
	stack := []base.PageID{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for e := range m {
			if e.Parent == n && (types == nil || types[e.Type]) && !seen[e.Child] {
				if e.Child == to {
					return true
				}
				seen[e.Child] = true
				stack = append(stack, e.Child)
			}
		}
	}
	return false
}

func (m model) sorted() []Edge {
	var es []Edge
	for e := range m {
		es = append(es, e)
	}
	slices.SortFunc(es, compareEdges)
	return es
}

// hubMins are the hub index thresholds the property tests run with: the
// real one, which their small graphs never reach, and small ones that
// index most nodes (and drop the index again as edges go).
var hubMins = []uint32{hubMin, 4, 8}

// useHubMin sets hubMin for one rapid run (the package's tests run one at
// a time).
func useHubMin(t *rapid.T, v uint32) {
	old := hubMin
	hubMin = v
	t.Cleanup(func() { hubMin = old })
}

func TestPropertyGraph(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := newAt(rapid.SampledFrom(ordStarts).Draw(t, "ordStart"))
		useHubMin(t, rapid.SampledFrom(hubMins).Draw(t, "hubMin"))
		m := model{}
		page := rapid.Uint64Range(1, 24)
		typ := rapid.Uint8Range(0, base.NumEdgeTypes-1)
		steps := rapid.IntRange(1, 120).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			p, c := base.PageID(page.Draw(t, "p")), base.PageID(page.Draw(t, "c"))
			ty := base.EdgeType(typ.Draw(t, "t"))
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			default: // add, most of the time
				e := Edge{p, c, ty}
				wantCycle := p == c || m.reaches(c, p, nil)
				added, err := g.AddEdge(p, c, ty)
				switch {
				case wantCycle:
					var ce *CycleError
					if !errors.As(err, &ce) || added {
						t.Fatalf("add %v: want cycle, got %v %v", e, added, err)
					}
					checkPath(t, m, ce)
				case m[e]:
					if added || err != nil {
						t.Fatalf("dup %v: %v %v", e, added, err)
					}
				default:
					if !added || err != nil {
						t.Fatalf("add %v: %v %v", e, added, err)
					}
					m[e] = true
				}
			case 7:
				if got := g.RemoveEdge(p, c, ty); got != m[Edge{p, c, ty}] {
					t.Fatalf("RemoveEdge %d %d %v = %v", p, c, ty, got)
				}
				delete(m, Edge{p, c, ty})
			case 8:
				var want []Edge
				for _, e := range m.sorted() {
					if e.Parent == p || e.Child == p {
						want = append(want, e)
						delete(m, e)
					}
				}
				if got := g.RemovePage(p); !slices.Equal(got, want) {
					t.Fatalf("RemovePage(%d) = %v want %v", p, got, want)
				}
			case 9:
				n := 0
				for ty := base.EdgeType(0); ty < base.NumEdgeTypes; ty++ {
					if m[Edge{p, c, ty}] {
						n++
						delete(m, Edge{p, c, ty})
					}
				}
				if got := g.RemoveEdges(p, c); got != n {
					t.Fatalf("RemoveEdges = %d want %d", got, n)
				}
			}
			if got, want := allEdges(g), m.sorted(); !slices.Equal(got, want) {
				t.Fatalf("edge set %v want %v", got, want)
			}
			// Only checked inserts happened: the maintained order must be
			// valid and agree with every current edge.
			if g.ordState != ordValid {
				t.Fatalf("order state %d", g.ordState)
			}
			if err := g.verifyOrder(); err != nil {
				t.Fatal(err)
			}
			if err := g.checkHubIndex(); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.CheckAcyclic(); err != nil {
			t.Fatal(err)
		}
		checkOrder(t, g, m)
	})
}

func checkPath(t *rapid.T, m model, ce *CycleError) {
	if ce.Path[0] != ce.Child || ce.Path[len(ce.Path)-1] != ce.Parent {
		t.Fatalf("path ends %+v", ce)
	}
	for i := 0; i+1 < len(ce.Path); i++ {
		ok := false
		for ty := base.EdgeType(0); ty < base.NumEdgeTypes; ty++ {
			ok = ok || m[Edge{ce.Path[i], ce.Path[i+1], ty}]
		}
		if !ok {
			t.Fatalf("path %v: %d->%d is not an edge", ce.Path, ce.Path[i], ce.Path[i+1])
		}
	}
}

func checkOrder(t *rapid.T, g *Graph, m model) {
	order := g.TopoOrder()
	pos := map[base.PageID]int{}
	for i, id := range order {
		pos[id] = i
	}
	nodes := map[base.PageID]bool{}
	for e := range m {
		nodes[e.Parent], nodes[e.Child] = true, true
		if pos[e.Parent] >= pos[e.Child] {
			t.Fatalf("topo %v violates %v", order, e)
		}
	}
	if len(order) != len(nodes) || g.NumNodes() != len(nodes) || g.NumEdges() != len(m) {
		t.Fatalf("topo has %d pages, graph %d, model %d", len(order), g.NumNodes(), len(nodes))
	}
	if !slices.Equal(order, g.TopoOrder()) {
		t.Fatal("TopoOrder not deterministic")
	}
	// Descendants from random roots equal brute-force reachability, and
	// their order respects every followed edge inside the set.
	roots := rapid.SliceOfN(rapid.Uint64Range(1, 24), 0, 4).Draw(t, "roots")
	var rs []base.PageID
	for _, r := range roots {
		rs = append(rs, base.PageID(r))
	}
	var filter *[base.NumEdgeTypes]bool
	if rapid.Bool().Draw(t, "filter") {
		filter = &[base.NumEdgeTypes]bool{base.EdgeData: true, base.EdgeGPUSync: true}
	}
	got := g.AppendDescendants(nil, rs, filter)
	want := map[base.PageID]bool{}
	for id := base.PageID(1); id <= 24; id++ {
		for _, r := range rs {
			if m.reaches(r, id, filter) {
				want[id] = true
			}
		}
	}
	gpos := map[base.PageID]int{}
	for i, id := range got {
		gpos[id] = i
		if !want[id] {
			t.Fatalf("descendants %v of %v include %d", got, rs, id)
		}
	}
	if len(gpos) != len(want) || len(got) != len(want) {
		t.Fatalf("descendants %v of %v, want set %v", got, rs, want)
	}
	for e := range m {
		if (filter == nil || filter[e.Type]) && want[e.Parent] && want[e.Child] && gpos[e.Parent] >= gpos[e.Child] {
			t.Fatalf("descendants %v violate %v", got, e)
		}
	}
	if !slices.Equal(got, g.AppendDescendants(nil, rs, filter)) {
		t.Fatal("AppendDescendants not deterministic")
	}
}

// ordStarts are the initial ord counters the property tests start from:
// the normal middle, and both ends of the 32-bit range so that a few
// creations force renumbering.
var ordStarts = []uint32{ordMid, 2, math.MaxUint32 - 2}

func newAt(start uint32) *Graph {
	g := New()
	g.ordLo, g.ordHi = start, start
	return g
}

func (m model) acyclic() bool {
	for e := range m {
		if e.Parent == e.Child || m.reaches(e.Child, e.Parent, nil) {
			return false
		}
	}
	return true
}

// TestPropertyOrderUnchecked mixes AddEdgeUnchecked (which may inject
// cycles) into random add/remove sequences: AddEdge must still refuse
// exactly the edges the brute-force model says close a cycle, with a real
// path, and the order must be valid again whenever the edges are acyclic
// and a checked insert between existing pages has run since.
func TestPropertyOrderUnchecked(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := newAt(rapid.SampledFrom(ordStarts).Draw(t, "ordStart"))
		useHubMin(t, rapid.SampledFrom(hubMins).Draw(t, "hubMin"))
		useShrinkMin(t, rapid.SampledFrom([]int{64, 0}).Draw(t, "shrinkMin"))
		m := model{}
		page := rapid.Uint64Range(1, 12)
		steps := rapid.IntRange(1, 150).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			p, c := base.PageID(page.Draw(t, "p")), base.PageID(page.Draw(t, "c"))
			ty := base.EdgeType(rapid.Uint8Range(0, base.NumEdgeTypes-1).Draw(t, "t"))
			e := Edge{p, c, ty}
			_, pok := g.lookup(p)
			_, cok := g.lookup(c)
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			default:
				wantCycle := p == c || m.reaches(c, p, nil)
				acyclicBefore := m.acyclic()
				added, err := g.AddEdge(p, c, ty)
				switch {
				case m[e]: // duplicates are found first, even on a cycle
					if added || err != nil {
						t.Fatalf("dup %v: %v %v", e, added, err)
					}
				case wantCycle:
					var ce *CycleError
					if !errors.As(err, &ce) || added {
						t.Fatalf("add %v: want cycle, got %v %v", e, added, err)
					}
					checkPath(t, m, ce)
				default:
					if !added || err != nil {
						t.Fatalf("add %v: %v %v", e, added, err)
					}
					m[e] = true
				}
				if added && pok && cok && acyclicBefore && g.ordState != ordValid {
					t.Fatalf("order not rebuilt (state %d) after checked insert into an acyclic graph", g.ordState)
				}
			case 7:
				if p == c {
					continue // a self-loop edge is not representable
				}
				if got := g.AddEdgeUnchecked(p, c, ty); got != !m[e] {
					t.Fatalf("AddEdgeUnchecked %v = %v", e, got)
				}
				m[e] = true
			case 8:
				if got := g.RemoveEdge(p, c, ty); got != m[e] {
					t.Fatalf("RemoveEdge %v = %v", e, got)
				}
				delete(m, e)
			case 9:
				for _, e := range m.sorted() {
					if e.Parent == p || e.Child == p {
						delete(m, e)
					}
				}
				g.RemovePage(p)
			}
			if err := g.verifyOrder(); err != nil {
				t.Fatal(err)
			}
			if err := g.checkHubIndex(); err != nil {
				t.Fatal(err)
			}
			if err := g.checkArena(); err != nil {
				t.Fatal(err)
			}
			if g.ordState == ordCyclic && m.acyclic() {
				t.Fatal("order marked cyclic for acyclic edges")
			}
			if (g.CheckAcyclic() == nil) != m.acyclic() {
				t.Fatalf("CheckAcyclic disagrees with the model")
			}
		}
	})
}
