package graph

import (
	"errors"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"pgregory.net/rapid"
)

// TestPropertyAnswersIndependentOfInsertOrder (rapid): the answers of a
// graph depend on its edge set only. Graph a gets a random acyclic edge set
// in one order; graph b gets it in another, with random edges removed and
// added again along the way and with refused edges (self-loops and edges
// closing a cycle) tried in between, which must leave it unchanged. Their
// TopoOrder, AppendDescendants of random roots (all types and Data only),
// children, parents and ranged reads are then identical, not
// merely valid: the wave's order, and so the log's bytes, follow from them.
// (TestPropertyGraph checks each answer against a model, but not that two
// graphs with the same edges answer alike.)
func TestPropertyAnswersIndependentOfInsertOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		useHubMin(t, rapid.SampledFrom(hubMins).Draw(t, "hubMin"))
		n := rapid.IntRange(2, 16).Draw(t, "pages")
		ids := make([]base.PageID, n)
		for i := range ids {
			ids[i] = base.PageID(i + 1)
		}
		// Every edge runs from a page earlier in rank to a later one.
		rank := rapid.Permutation(ids).Draw(t, "rank")
		var es []Edge
		for i := 1; i < n; i++ {
			for j := range i {
				for ty := range base.EdgeType(base.NumEdgeTypes) {
					if rapid.IntRange(0, 5).Draw(t, "edge") == 0 {
						es = append(es, Edge{rank[j], rank[i], ty})
					}
				}
			}
		}
		a := newAt(rapid.SampledFrom(ordStarts).Draw(t, "ordStart a"))
		b := newAt(rapid.SampledFrom(ordStarts).Draw(t, "ordStart b"))
		for _, e := range es {
			if added, err := a.AddEdge(e.Parent, e.Child, e.Type); !added || err != nil {
				t.Fatalf("a: add %v: %v %v", e, added, err)
			}
		}
		for _, e := range rapid.Permutation(es).Draw(t, "order of b") {
			if added, err := b.AddEdge(e.Parent, e.Child, e.Type); !added || err != nil {
				t.Fatalf("b: add %v: %v %v", e, added, err)
			}
			if rapid.Bool().Draw(t, "again") {
				if !b.RemoveEdge(e.Parent, e.Child, e.Type) {
					t.Fatalf("b: remove %v: not found", e)
				}
				if added, err := b.AddEdge(e.Parent, e.Child, e.Type); !added || err != nil {
					t.Fatalf("b: add %v again: %v %v", e, added, err)
				}
			}
			if rapid.IntRange(0, 3).Draw(t, "refused") == 0 {
				before := allEdges(b)
				have := before[rapid.IntRange(0, len(before)-1).Draw(t, "reversed")]
				x := rapid.SampledFrom(ids).Draw(t, "self")
				for _, r := range []Edge{{have.Child, have.Parent, base.EdgeType(rapid.IntRange(0, 3).Draw(t, "type"))}, {x, x, base.EdgeData}} {
					var ce *CycleError
					if added, err := b.AddEdge(r.Parent, r.Child, r.Type); added || !errors.As(err, &ce) {
						t.Fatalf("b: add %v closing a cycle: %v %v", r, added, err)
					}
				}
				if after := allEdges(b); !slices.Equal(after, before) {
					t.Fatalf("refused edges changed b: %v, before %v", after, before)
				}
			}
		}
		if got, want := allEdges(b), allEdges(a); !slices.Equal(got, want) {
			t.Fatalf("edges of b %v, of a %v", got, want)
		}
		if got, want := b.TopoOrder(), a.TopoOrder(); !slices.Equal(got, want) {
			t.Fatalf("TopoOrder of b %v, of a %v", got, want)
		}
		data := &[base.NumEdgeTypes]bool{base.EdgeData: true}
		for range 4 {
			roots := rapid.SliceOfN(rapid.SampledFrom(ids), 0, 4).Draw(t, "roots")
			for _, types := range []*[base.NumEdgeTypes]bool{nil, data} {
				if got, want := b.AppendDescendants(nil, roots, types), a.AppendDescendants(nil, roots, types); !slices.Equal(got, want) {
					t.Fatalf("AppendDescendants(%v, %v) of b %v, of a %v", roots, types, got, want)
				}
			}
		}
		for _, id := range ids {
			if got, want := b.AppendChildren(nil, id), a.AppendChildren(nil, id); !slices.Equal(got, want) {
				t.Fatalf("children of %d: b %v, a %v", id, got, want)
			}
			if got, want := b.AppendParents(nil, id), a.AppendParents(nil, id); !slices.Equal(got, want) {
				t.Fatalf("parents of %d: b %v, a %v", id, got, want)
			}
			off, lim := rapid.IntRange(-1, 4).Draw(t, "offset"), rapid.IntRange(0, 4).Draw(t, "limit")
			gotR, gotN := b.AppendParentsRange(nil, id, off, lim)
			wantR, wantN := a.AppendParentsRange(nil, id, off, lim)
			if !slices.Equal(gotR, wantR) || gotN != wantN {
				t.Fatalf("parents of %d from %d, %d: b %v of %d, a %v of %d", id, off, lim, gotR, gotN, wantR, wantN)
			}
		}
		if len(es) > 0 { // both refuse (the path named may differ: nothing promises which)
			e := rapid.SampledFrom(es).Draw(t, "cycle")
			_, errA := a.AddEdge(e.Child, e.Parent, base.EdgeControl)
			_, errB := b.AddEdge(e.Child, e.Parent, base.EdgeControl)
			var ca, cb *CycleError
			if !errors.As(errA, &ca) || !errors.As(errB, &cb) {
				t.Fatalf("closing %v reversed: a %v, b %v", e, errA, errB)
			}
		}
		for _, g := range []*Graph{a, b} {
			if err := g.verifyOrder(); err != nil {
				t.Fatal(err)
			}
			if err := g.CheckAcyclic(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
