package graph

import (
	"errors"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// ordOf returns the pages sorted by their maintained ord value.
func ordOf(g *Graph) []base.PageID {
	var ids []base.PageID
	for _, id := range g.ids {
		if id != 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b base.PageID) int {
		na, _ := g.lookup(a)
		nb, _ := g.lookup(b)
		return int(int64(g.ord[na]) - int64(g.ord[nb]))
	})
	return ids
}

func TestOrderPlacement(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edges [][2]base.PageID
		want  []base.PageID // pages in ord order afterwards
	}{
		// New parents go first, new children last: no reorder needed.
		{"fresh ends", [][2]base.PageID{{1, 2}, {3, 1}, {2, 4}}, []base.PageID{3, 1, 2, 4}},
		// Before the last edge the order is 5 7 8 6 (parents were placed
		// first, children last), so 6 -> 7 runs against it: the backward
		// set {6} takes the smallest of the values of {6, 7, 8}. 5 lies
		// outside the window and keeps its value.
		{"backward edge", [][2]base.PageID{{7, 8}, {5, 6}, {6, 7}}, []base.PageID{5, 6, 7, 8}},
		// Order before the last edge: 3 9 1 2 10 4. The descendants of
		// 3 ({3, 4}) are found before the ancestors of 2 inside the window,
		// so they move to the end; nothing else moves.
		{"descendants to end", [][2]base.PageID{{1, 2}, {9, 10}, {3, 4}, {2, 3}}, []base.PageID{9, 1, 2, 10, 3, 4}},
		// Before: 9 3 1 2 4 5 6 10. Here 3 has more descendants (4, 5, 6)
		// than 2 has ancestors in the window ({2, 1}), so the PK step wins:
		// {1, 2} and {3} share the values they held, 1 and 2 first; 9
		// lies outside the window and keeps its value.
		{"window reorder", [][2]base.PageID{{1, 2}, {3, 4}, {4, 5}, {5, 6}, {9, 10}, {2, 3}}, []base.PageID{9, 1, 2, 3, 4, 5, 6, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New()
			for _, e := range tc.edges {
				mustAdd(t, g, e[0], e[1], D)
			}
			if err := g.verifyOrder(); err != nil {
				t.Fatal(err)
			}
			if got := ordOf(g); !slices.Equal(got, tc.want) {
				t.Fatalf("order %v want %v", got, tc.want)
			}
		})
	}
}

// TestOrderRefusalLeavesOrder: a refused edge changes neither the edges
// nor the maintained order, and the path is the real one.
func TestOrderRefusalLeavesOrder(t *testing.T) {
	g := New()
	mustAdd(t, g, 1, 2, D)
	mustAdd(t, g, 2, 3, D)
	mustAdd(t, g, 3, 4, D)
	mustAdd(t, g, 2, 9, D)
	before := slices.Clone(g.ord)
	_, err := g.AddEdge(4, 2, C)
	var ce *CycleError
	if !errors.As(err, &ce) || !slices.Equal(ce.Path, []base.PageID{2, 3, 4}) {
		t.Fatalf("got %v", err)
	}
	if !slices.Equal(g.ord, before) || g.NumEdges() != 4 {
		t.Fatal("refused edge changed the graph or its order")
	}
}

// TestOrderAfterUncheckedCycle: an injected cycle makes the order stale;
// AddEdge falls back to a DFS while the cycle lasts and rebuilds the order
// once it is gone.
func TestOrderAfterUncheckedCycle(t *testing.T) {
	g := New()
	mustAdd(t, g, 1, 2, D)
	mustAdd(t, g, 2, 3, D)
	if !g.AddEdgeUnchecked(3, 1, D) || g.ordState != ordStale {
		t.Fatalf("inject: state %d", g.ordState)
	}
	mustAdd(t, g, 5, 6, D) // fresh ends: no check, no rebuild
	// Both ends exist: the rebuild fails on the cycle, the DFS still works.
	if _, err := g.AddEdge(3, 2, C); !errors.Is(err, ErrCycle) || g.ordState != ordCyclic {
		t.Fatalf("3->2: %v state %d", err, g.ordState)
	}
	mustAdd(t, g, 6, 1, D)
	mustAdd(t, g, 7, 8, D)
	if !g.RemoveEdge(3, 1, D) || g.ordState != ordStale {
		t.Fatalf("remove: state %d", g.ordState)
	}
	mustAdd(t, g, 5, 3, D) // rebuild succeeds
	if g.ordState != ordValid {
		t.Fatalf("state %d", g.ordState)
	}
	mustAdd(t, g, 3, 7, D) // against the rebuilt order: a normal reorder
	mustAdd(t, g, 8, 4, D)
	if g.ordState != ordValid {
		t.Fatalf("state %d", g.ordState)
	}
	if err := g.verifyOrder(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AddEdge(1, 3, K); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AddEdge(2, 6, K); !errors.Is(err, ErrCycle) {
		t.Fatalf("2->6 closes 6->1->2: %v", err)
	}
}

// TestOrderRenumber: running out of 32-bit values at either end renumbers
// the live nodes compactly without changing their relative order.
func TestOrderRenumber(t *testing.T) {
	g := newAt(3)
	mustAdd(t, g, 10, 11, D)
	mustAdd(t, g, 20, 21, D)
	mustAdd(t, g, 30, 31, D) // third parent: ordLo hits 0 and renumbers
	mustAdd(t, g, 40, 10, D)
	if g.ordLo < 1<<30 {
		t.Fatalf("not renumbered: lo %d", g.ordLo)
	}
	if err := g.verifyOrder(); err != nil {
		t.Fatal(err)
	}
	if got, want := ordOf(g), []base.PageID{40, 30, 20, 10, 11, 21, 31}; !slices.Equal(got, want) {
		t.Fatalf("order %v want %v", got, want)
	}
}

// TestOrderNodeReuse: a page removed and re-added under a recycled node
// number gets a fresh ord value, never a duplicate.
func TestOrderNodeReuse(t *testing.T) {
	g := New()
	for i := base.PageID(1); i < 50; i++ {
		mustAdd(t, g, i, i+1, D)
	}
	for i := base.PageID(10); i < 40; i += 3 {
		g.RemovePage(i)
	}
	for i := base.PageID(100); i < 120; i++ {
		mustAdd(t, g, 45, i, D)
		mustAdd(t, g, i, 5, C) // 45 ->* 5 reorders 5..9 and the new page after 45
	}
	if err := g.verifyOrder(); err != nil {
		t.Fatal(err)
	}
	if err := g.CheckAcyclic(); err != nil {
		t.Fatal(err)
	}
}

func TestBackwardInsertAllocs(t *testing.T) {
	g := New()
	// Two unrelated chains; an edge between them in either direction is
	// acyclic, and alternating directions makes every insert a reorder.
	for i := base.PageID(1); i < 100; i++ {
		mustAdd(t, g, i, i+1, D)
		mustAdd(t, g, 1000+i, 1000+i+1, D)
	}
	flip := false
	step := func() {
		p, c := base.PageID(50), base.PageID(1050)
		if flip {
			p, c = c, p
		}
		flip = !flip
		if _, err := g.AddEdge(p, c, K); err != nil {
			t.Fatal(err)
		}
		g.RemoveEdge(p, c, K)
	}
	step()
	step()
	if a := testing.AllocsPerRun(100, step); a != 0 {
		t.Errorf("backward AddEdge allocates %v", a)
	}
	if err := g.verifyOrder(); err != nil {
		t.Fatal(err)
	}
}
