package graph

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestRefusedEdgeReadsFewParents: an edge x -> y that would close a short
// cycle y -> a -> x, where x has many parents, is refused after the
// forward search's few steps; the backward search beside it reads its
// in-edges a part per turn and must not read all of x's parents first
// (it did, a whole node per turn: a refused edge cost 60x the forward
// search alone on BenchmarkAddEdgeRefused's graph).
func TestRefusedEdgeReadsFewParents(t *testing.T) {
	const parents = 20_000
	g := New()
	// y=1 -> a=2 -> x=3, created in that order, so ord[y] < ord[x].
	for _, e := range [][2]base.PageID{{1, 2}, {2, 3}} {
		if _, err := g.AddEdge(e[0], e[1], base.EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	// Many parents of x, all created after it and ordered before it by
	// the repairs: they lie inside the window [ord[y], ord[x]].
	for p := base.PageID(100); p < 100+parents; p++ {
		if _, err := g.AddEdge(p, 3, base.EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	before := g.s.backEdges
	path, err := g.AddEdge(3, 1, base.EdgeData)
	if err == nil {
		t.Fatalf("edge 3 -> 1 accepted, want a cycle (path %v)", path)
	}
	if read := g.s.backEdges - before; read > 4*backwardTurnEdges {
		t.Fatalf("refusing 3 -> 1 read %d in-edges backwards (x has %d parents), want at most %d: the backward search read whole nodes", read, parents, 4*backwardTurnEdges)
	}
}
