package graph

import (
	"errors"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

const (
	D = base.EdgeData
	C = base.EdgeControl
	G = base.EdgeGPUSync
	K = base.EdgeCompiler
)

func mustAdd(t testing.TB, g *Graph, p, c base.PageID, ty base.EdgeType) {
	t.Helper()
	if _, err := g.AddEdge(p, c, ty); err != nil {
		t.Fatalf("AddEdge(%d,%d,%v): %v", p, c, ty, err)
	}
}

func allEdges(g *Graph) []Edge {
	var es []Edge
	g.Edges(func(e Edge) bool { es = append(es, e); return true })
	return es
}

func TestAddEdgeBasics(t *testing.T) {
	g := New()
	if added, err := g.AddEdge(1, 2, D); !added || err != nil {
		t.Fatalf("first add: %v %v", added, err)
	}
	if added, err := g.AddEdge(1, 2, D); added || err != nil {
		t.Fatalf("duplicate add: %v %v", added, err)
	}
	if added, err := g.AddEdge(1, 2, C); !added || err != nil {
		t.Fatalf("same pair, other type: %v %v", added, err)
	}
	if g.NumEdges() != 2 || g.NumNodes() != 2 {
		t.Fatalf("counts: %d edges %d nodes", g.NumEdges(), g.NumNodes())
	}
	want := []Edge{{1, 2, D}, {1, 2, C}}
	if got := allEdges(g); !slices.Equal(got, want) {
		t.Fatalf("edges %v want %v", got, want)
	}
}

func TestAddEdgeBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		p, c base.PageID
		ty   base.EdgeType
		want error
	}{
		{"parent zero", 0, 1, D, ErrInvalidEdge},
		{"child zero", 1, 0, D, ErrInvalidEdge},
		{"bad type", 1, 2, base.NumEdgeTypes, ErrInvalidEdge},
		{"self loop", 3, 3, D, ErrCycle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New()
			added, err := g.AddEdge(tc.p, tc.c, tc.ty)
			if added || !errors.Is(err, tc.want) {
				t.Fatalf("got %v %v, want %v", added, err, tc.want)
			}
			if g.NumEdges() != 0 || g.NumNodes() != 0 {
				t.Fatalf("graph changed")
			}
		})
	}
}

func TestCycleErrorPath(t *testing.T) {
	g := New()
	// 1 -> 2 -> 3 -> 4, plus 2 -> 5 (a dead end).
	mustAdd(t, g, 1, 2, D)
	mustAdd(t, g, 2, 3, C)
	mustAdd(t, g, 3, 4, G)
	mustAdd(t, g, 2, 5, D)
	before := allEdges(g)
	_, err := g.AddEdge(4, 1, K)
	var ce *CycleError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCycle) {
		t.Fatalf("want *CycleError, got %v", err)
	}
	if ce.Parent != 4 || ce.Child != 1 || !slices.Equal(ce.Path, []base.PageID{1, 2, 3, 4}) {
		t.Fatalf("cycle error %+v", ce)
	}
	if got := allEdges(g); !slices.Equal(got, before) {
		t.Fatalf("refused edge changed graph: %v", got)
	}
	// Self-loop path is the single page.
	_, err = g.AddEdge(2, 2, D)
	if !errors.As(err, &ce) || !slices.Equal(ce.Path, []base.PageID{2}) {
		t.Fatalf("self loop: %v", err)
	}
	// A refused edge between a known and an unknown page cannot happen;
	// one to a fresh page must not create nodes on refusal either.
	if _, err := g.AddEdge(4, 2, D); err == nil || g.NumNodes() != 5 {
		t.Fatalf("4->2 must be refused: %v", err)
	}
}

func TestRemove(t *testing.T) {
	g := New()
	mustAdd(t, g, 1, 2, D)
	mustAdd(t, g, 1, 2, C)
	mustAdd(t, g, 2, 3, D)
	mustAdd(t, g, 4, 2, G)
	if g.RemoveEdge(1, 2, G) || g.RemoveEdge(9, 2, D) || g.RemoveEdge(1, 2, 7) {
		t.Fatal("removed a missing edge")
	}
	if !g.RemoveEdge(1, 2, C) || g.NumEdges() != 3 {
		t.Fatal("RemoveEdge")
	}
	if n := g.RemoveEdges(1, 2); n != 1 || g.HasEdges(1) || g.NumNodes() != 3 {
		t.Fatalf("RemoveEdges: %d, has(1)=%v nodes=%d", n, g.HasEdges(1), g.NumNodes())
	}
	mustAdd(t, g, 1, 2, K)
	got := g.RemovePage(2)
	want := []Edge{{1, 2, K}, {2, 3, D}, {4, 2, G}}
	if !slices.Equal(got, want) {
		t.Fatalf("RemovePage %v want %v", got, want)
	}
	if g.NumEdges() != 0 || g.NumNodes() != 0 || g.RemovePage(2) != nil {
		t.Fatalf("after RemovePage: %d edges %d nodes", g.NumEdges(), g.NumNodes())
	}
	// Node numbers are reused, and the graph still works.
	mustAdd(t, g, 7, 8, D)
	mustAdd(t, g, 8, 9, D)
	if got := g.TopoOrder(); !slices.Equal(got, []base.PageID{7, 8, 9}) {
		t.Fatalf("topo after reuse %v", got)
	}
	if len(g.ids) > 4 {
		t.Fatalf("node numbers not reused: %d", len(g.ids))
	}
}

func TestChildrenParents(t *testing.T) {
	g := New()
	mustAdd(t, g, 5, 9, C)
	mustAdd(t, g, 5, 3, D)
	mustAdd(t, g, 5, 9, D)
	mustAdd(t, g, 1, 9, D)
	if got, want := g.AppendChildren(nil, 5), []Edge{{5, 3, D}, {5, 9, D}, {5, 9, C}}; !slices.Equal(got, want) {
		t.Fatalf("children %v want %v", got, want)
	}
	if got, want := g.AppendParents([]Edge{{}}, 9), []Edge{{}, {1, 9, D}, {5, 9, D}, {5, 9, C}}; !slices.Equal(got, want) {
		t.Fatalf("parents %v want %v", got, want)
	}
	if got := g.AppendChildren(nil, 42); got != nil {
		t.Fatalf("unknown page children %v", got)
	}
}

func TestDescendants(t *testing.T) {
	g := New()
	// 10 -> 5 -> 7, 10 -> 3 -> 7, 7 -> 1 (control), 20 -> 3.
	mustAdd(t, g, 10, 5, D)
	mustAdd(t, g, 5, 7, D)
	mustAdd(t, g, 10, 3, D)
	mustAdd(t, g, 3, 7, D)
	mustAdd(t, g, 7, 1, C)
	mustAdd(t, g, 20, 3, D)
	data := &[base.NumEdgeTypes]bool{D: true}
	for _, tc := range []struct {
		name  string
		roots []base.PageID
		types *[base.NumEdgeTypes]bool
		want  []base.PageID
	}{
		{"all types", []base.PageID{10}, nil, []base.PageID{3, 5, 7, 1}},
		{"data only", []base.PageID{10}, data, []base.PageID{3, 5, 7}},
		{"root reachable from root", []base.PageID{10, 3}, nil, []base.PageID{3, 5, 7, 1}},
		{"other root", []base.PageID{20}, nil, []base.PageID{3, 7, 1}},
		{"leaf", []base.PageID{1}, nil, nil},
		{"unknown", []base.PageID{99}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := g.AppendDescendants(nil, tc.roots, tc.types)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
	if got := g.TopoOrder(); !slices.Equal(got, []base.PageID{10, 5, 20, 3, 7, 1}) {
		t.Fatalf("topo %v", got)
	}
}

func TestCheckAcyclicCatchesInjectedCycle(t *testing.T) {
	g := New()
	mustAdd(t, g, 1, 2, D)
	mustAdd(t, g, 2, 3, D)
	mustAdd(t, g, 3, 4, D)
	mustAdd(t, g, 0x10, 1, D)
	if err := g.CheckAcyclic(); err != nil {
		t.Fatal(err)
	}
	if !g.AddEdgeUnchecked(4, 2, C) {
		t.Fatal("inject")
	}
	err := g.CheckAcyclic()
	var ce *CycleError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCycle) {
		t.Fatalf("cycle not caught: %v", err)
	}
	// The reported cycle must consist of real edges, closed by Parent->Child.
	if ce.Path[0] != ce.Child || ce.Path[len(ce.Path)-1] != ce.Parent || len(ce.Path) != 3 {
		t.Fatalf("bad cycle %+v", ce)
	}
	for i := 0; i < len(ce.Path); i++ {
		p, c := ce.Path[i], ce.Path[(i+1)%len(ce.Path)]
		if len(g.AppendChildren(nil, p)) == 0 || !hasEdge(g, p, c) {
			t.Fatalf("path edge %d->%d missing (%v)", p, c, ce.Path)
		}
	}
	g.RemoveEdge(4, 2, C)
	if err := g.CheckAcyclic(); err != nil {
		t.Fatal(err)
	}
}

func hasEdge(g *Graph, p, c base.PageID) bool {
	for _, e := range g.AppendChildren(nil, p) {
		if e.Child == c {
			return true
		}
	}
	return false
}

func TestHubGrowsBeyondChunk(t *testing.T) {
	g := New()
	const n = chunkSize/4 + 100 // forces the big-block path
	for i := base.PageID(2); i < n+2; i++ {
		mustAdd(t, g, 1, i, D)
	}
	if g.NumEdges() != n || len(g.AppendChildren(nil, 1)) != n {
		t.Fatalf("hub edges %d", g.NumEdges())
	}
	if g.cls[0] != bigClass {
		t.Fatal("hub not in a big block")
	}
	if err := g.CheckAcyclic(); err != nil {
		t.Fatal(err)
	}
	if got := g.RemovePage(1); len(got) != n || g.NumNodes() != 0 || g.arena.live != 0 {
		t.Fatalf("remove hub: %d edges left %d live %d", len(got), g.NumNodes(), g.arena.live)
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	g := New()
	for i := base.PageID(1); i < 200; i++ {
		mustAdd(t, g, i, i+1, D)
		mustAdd(t, g, i, i+2, C)
	}
	roots := []base.PageID{50}
	dst := make([]base.PageID, 0, 512)
	dst = g.AppendDescendants(dst[:0], roots, nil)
	children := make([]Edge, 0, 8)
	if a := testing.AllocsPerRun(100, func() {
		dst = g.AppendDescendants(dst[:0], roots, nil)
	}); a != 0 {
		t.Errorf("AppendDescendants allocates %v", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		// Forward edge: in order already, or a bounded reorder.
		if _, err := g.AddEdge(10, 150, K); err != nil {
			t.Fatal(err)
		}
		g.RemoveEdge(10, 150, K)
	}); a != 0 {
		t.Errorf("AddEdge/RemoveEdge allocates %v", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		children = g.AppendChildren(children[:0], 20)
		_ = g.CheckAcyclic()
	}); a != 0 {
		t.Errorf("AppendChildren/CheckAcyclic allocates %v", a)
	}
}

func TestIDIndex(t *testing.T) {
	// Exercise backward-shift deletion under heavy collisions.
	g := New()
	for round := 0; round < 3; round++ {
		for i := base.PageID(1); i <= 3000; i++ {
			mustAdd(t, g, i*2, i*2+1, D)
		}
		for i := base.PageID(1); i <= 3000; i += 2 {
			g.RemovePage(i * 2)
		}
		for i := base.PageID(1); i <= 3000; i++ {
			if g.HasEdges(i*2) != (i%2 == 0) || g.HasEdges(i*2+1) != (i%2 == 0) {
				t.Fatalf("round %d page %d", round, i)
			}
		}
		for i := base.PageID(2); i <= 3000; i += 2 {
			g.RemovePage(i * 2)
		}
		if g.NumNodes() != 0 || g.index.count != 0 {
			t.Fatalf("not empty")
		}
	}
}

// TestConcurrentQueries: queries share the scratch space under an internal
// mutex, so readers may run in parallel (run with -race).
func TestConcurrentQueries(t *testing.T) {
	g := New()
	for i := base.PageID(1); i < 100; i++ {
		mustAdd(t, g, i, i+1, D)
	}
	done := make(chan []base.PageID, 4)
	for k := 0; k < 4; k++ {
		go func() {
			var got []base.PageID
			for r := 0; r < 50; r++ {
				got = g.AppendDescendants(got[:0], []base.PageID{50}, nil)
				_ = g.CheckAcyclic()
				_ = g.TopoOrder()
			}
			done <- got
		}()
	}
	for k := 0; k < 4; k++ {
		if got := <-done; len(got) != 50 || got[0] != 51 {
			t.Fatalf("descendants %v", got)
		}
	}
}
