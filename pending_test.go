package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// A page written and then freed (its edges removed first, as FreePage
// requires) no longer waits for propagation: Pending counted it until the
// next wave, and a tick's Pending metric with it.
func TestPendingForgetsFreedPages(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 3, 16)
	a, b, c := ids[0], ids[1], ids[2]
	for _, child := range []PageID{b, c} {
		if err := e.AddEdge(ctx, a, child, EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.AddEdge(ctx, b, c, EdgeData); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(a, 0, "x"), w(b, 0, "y")}); err != nil {
		t.Fatal(err)
	}
	if got := e.Pending(); got != 2 {
		t.Fatalf("Pending after writing two pages with edges = %d, want 2", got)
	}
	for _, child := range []PageID{b, c} {
		if err := e.RemoveEdge(ctx, a, child, EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.FreePage(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := e.Pending(); got != 1 {
		t.Fatalf("Pending after freeing one of the two = %d, want 1 (page %d is gone)", got, a)
	}
	// The page left waiting still propagates; the freed one is not a root.
	r, err := e.Propagate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Roots != 1 || e.Pending() != 0 {
		t.Fatalf("wave roots %d, Pending after it %d; want 1 and 0", r.Roots, e.Pending())
	}
}
