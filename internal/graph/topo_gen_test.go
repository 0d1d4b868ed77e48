package graph

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestReorderStampsSurviveGenWrap: reorder takes two traversal generations,
// one per search. When the first is the last before the 32-bit counter
// wraps, the second wraps it and clears the stamps; the forward search's
// stamps, written after that clear with the old top value, must not stay
// behind to be mistaken for marks of a later search when the counter comes
// round to that value again. Setting gen stands in for the 2^32 traversals
// in between (counting up from 1 never clears). With stale stamps the
// acyclic edge 31 -> 10 below found 11 "already an ancestor of 31", took
// it for a cycle and panicked when the forward search could not reach 31.
func TestReorderStampsSurviveGenWrap(t *testing.T) {
	g := New()
	mustAdd(t, g, 1, 2, D)
	mustAdd(t, g, 2, 3, D)
	mustAdd(t, g, 10, 11, D) // order: 10 1 2 3 11
	g.s.gen = math.MaxUint32 - 1
	mustAdd(t, g, 3, 10, D)  // against the order: reorder at the wrap
	mustAdd(t, g, 30, 31, D) // order: 30 1 2 3 10 11 31
	if err := g.verifyOrder(); err != nil {
		t.Fatal(err)
	}
	// 2^32-3 traversals later: the forward search of the next reorder
	// takes MaxUint32-1, the backward one MaxUint32.
	g.s.gen = math.MaxUint32 - 2
	if _, err := g.AddEdge(31, 10, D); err != nil {
		t.Fatalf("acyclic edge 31 -> 10: %v", err)
	}
	if err := g.verifyOrder(); err != nil {
		t.Fatal(err)
	}
	var ce *CycleError
	_, err := g.AddEdge(11, 1, K)
	if !errors.As(err, &ce) || !slices.Equal(ce.Path, []base.PageID{1, 2, 3, 10, 11}) {
		t.Fatalf("closing edge 11 -> 1: %v, want the cycle 1 -> 2 -> 3 -> 10 -> 11", err)
	}
	if err := g.CheckAcyclic(); err != nil {
		t.Fatal(err)
	}
}

// TestOrderRenumbersForMoves: the repairs that move nodes to fresh values
// before ordLo or after ordHi need room there. Once an end of the 32-bit
// range is that close (here after three creations from 3; in a running bus
// after ~2^31 created or moved nodes), the live nodes are renumbered before
// the search instead of those repairs being ruled out until some later
// creation hits the end: without it every link of a chain built from its
// end fell back to PK over the whole chain, quadratic time again. The
// graph is TestOrderMovesAncestorsFirst's, with the same result.
func TestOrderRenumbersForMoves(t *testing.T) {
	g := newAt(3)
	for i := base.PageID(10); i < 40; i++ {
		mustAdd(t, g, i, i+1, D) // 10 -> ... -> 40, in that order
	}
	mustAdd(t, g, 2, 3, D)
	mustAdd(t, g, 5, 6, D) // order: 5 2 10 ... 40 3 6; ordLo is 0
	mustAdd(t, g, 3, 10, D)
	if err := g.verifyOrder(); err != nil {
		t.Fatal(err)
	}
	if got := ordOf(g); !slices.Equal(got[:4], []base.PageID{2, 3, 5, 10}) {
		t.Fatalf("order starts %v, want 2 3 5 10 (the ancestors of 3 moved first)", got[:4])
	}
}
