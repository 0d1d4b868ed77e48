package mmsb

import (
	"errors"
	"testing"
)

// TestDataEdgeChecksOfManyParentsLinear: the checks that keep a derived
// page's Data edges exactly its binding's looked each parent up in the
// binding's parent list (slices.Contains), so an edge operation per parent
// of a page with n parents took n*n/2 steps: at 40,000 parents, binding a
// page that already had those edges took 1.5 s, adding them again another
// 1.5 s, fourfold per doubling. At 2^18 parents the steps below take about
// a minute and a half that way (over `-timeout 60s`), about a second with
// the checks asking the graph (one probe each) and a sorted copy of the
// parents. No timing is asserted: a quadratic path shows up as a timeout.
// What each step answers is checked, so the faster checks refuse and
// accept exactly what the old ones did.
func TestDataEdgeChecksOfManyParentsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("a page with 2^18 parents")
	}
	const n = 1 << 18
	e := openMem(t, &Options{HistoryEntries: -1, DisableLog: true})
	ids := mustCreate(t, e, n+2, 8)
	parents, child, foreign := ids[:n], ids[n], ids[n+1]
	for _, p := range parents { // Data edges into a page not yet bound
		if err := e.AddEdge(ctx, p, child, EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.AddEdge(ctx, foreign, child, EdgeData); err != nil {
		t.Fatal(err)
	}
	// A binding that leaves a foreign Data edge into the page is refused.
	if err := e.Bind(ctx, child, "f64.sum", nil, parents); !errors.Is(err, ErrPageInUse) {
		t.Fatalf("Bind with a foreign data edge = %v, want ErrPageInUse", err)
	}
	if err := e.RemoveEdge(ctx, foreign, child, EdgeData); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, child, "f64.sum", nil, parents); err != nil {
		t.Fatal(err)
	}
	for _, p := range parents { // the binding's own edges: accepted, no-ops
		if err := e.AddEdge(ctx, p, child, EdgeData); err != nil {
			t.Fatalf("AddEdge(%d -> %d) of the binding: %v", p, child, err)
		}
	}
	for _, p := range parents { // ... and not removable but by Unbind
		if err := e.RemoveEdge(ctx, p, child, EdgeData); !errors.Is(err, ErrPageInUse) {
			t.Fatalf("RemoveEdge(%d -> %d) of the binding = %v, want ErrPageInUse", p, child, err)
		}
	}
	if err := e.AddEdge(ctx, foreign, child, EdgeData); !errors.Is(err, ErrPageInUse) {
		t.Fatalf("foreign data edge into the bound page = %v, want ErrPageInUse", err)
	}
	// Other edge types from anywhere are the caller's.
	if err := e.AddEdge(ctx, foreign, child, EdgeControl); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveEdges(ctx, foreign, child); err != nil {
		t.Fatal(err)
	}
	if got := len(e.Parents(child)); got != n {
		t.Fatalf("%d edges into the derived page, want %d", got, n)
	}
	if err := e.Unbind(ctx, child); err != nil {
		t.Fatal(err)
	}
	if got := len(e.Parents(child)); got != 0 {
		t.Fatalf("%d edges into the page after Unbind, want 0", got)
	}
}
