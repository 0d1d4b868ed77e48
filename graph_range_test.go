package mmsb

import (
	"math"
	"slices"
	"testing"
)

// TestParentsChildrenRange: ParentsRange and ChildrenRange return
// Parents[offset:offset+limit] and Children[offset:offset+limit] (cut at
// the end) and the total, for a hub of 600 parents of which some have a
// second edge of another type and IDs not in creation order (the edges
// are selected by page ID, not by where the graph keeps them); an offset
// below 0 counts as 0, one past the end and a limit of 0 or less return
// none and the total, a limit of the largest int does not overflow, and a
// page without edges has none. And EdgesAmong returns exactly the edges of
// Edges between the pages asked for, through a hub (probed) and small
// pages (scanned), with repeats and unknown IDs among them.
func TestParentsChildrenRange(t *testing.T) {
	e := openT(t, "", nil)
	const n = 600
	specs := make([]PageSpec, n+3)
	for i := range specs {
		specs[i] = PageSpec{Size: 8}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	hub, sink, lone := ids[n], ids[n+1], ids[n+2]
	// Added from the highest parent down, every third with a control edge
	// too: the graph's own order is not the answer's.
	for i := n - 1; i >= 0; i-- {
		if err := e.AddEdge(ctx, ids[i], hub, EdgeData); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := e.AddEdge(ctx, ids[i], hub, EdgeControl); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range []PageID{ids[5], ids[500], hub} {
		if err := e.AddEdge(ctx, p, sink, EdgeControl); err != nil {
			t.Fatal(err)
		}
	}
	all := e.Parents(hub)
	if len(all) != n+n/3 {
		t.Fatalf("%d edges into the hub, want %d", len(all), n+n/3)
	}
	allOut := e.Children(ids[0])
	for _, tc := range []struct{ offset, limit int }{
		{0, 10}, {590, 20}, {0, len(all)}, {-5, 3}, {len(all), 5}, {len(all) + 1, 5},
		{math.MaxInt, 5}, {3, 0}, {3, -1}, {7, math.MaxInt}, {0, 1}, {1, 1},
	} {
		from := min(max(tc.offset, 0), len(all))
		to := from + min(max(tc.limit, 0), len(all)-from)
		got, total := e.ParentsRange(hub, tc.offset, tc.limit)
		if total != len(all) || !slices.Equal(got, all[from:to]) && (len(got) != 0 || from != to) {
			t.Fatalf("ParentsRange(%d, %d, %d) = %v (%d), want %v (%d)", hub, tc.offset, tc.limit, got, total, all[from:to], len(all))
		}
		from = min(max(tc.offset, 0), len(allOut))
		to = from + min(max(tc.limit, 0), len(allOut)-from)
		gotOut, totalOut := e.ChildrenRange(ids[0], tc.offset, tc.limit)
		if totalOut != len(allOut) || !slices.Equal(gotOut, allOut[from:to]) && (len(gotOut) != 0 || from != to) {
			t.Fatalf("ChildrenRange(%d, %d, %d) = %v (%d), want %v (%d)", ids[0], tc.offset, tc.limit, gotOut, totalOut, allOut[from:to], len(allOut))
		}
	}
	// Paging through with offset += limit gives Parents.
	var paged []Edge
	for off := 0; ; off += 7 {
		es, total := e.ParentsRange(hub, off, 7)
		if off >= total {
			break
		}
		paged = append(paged, es...)
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("paging through the hub's parents 7 at a time gave %d edges, not Parents' %d", len(paged), len(all))
	}
	if es, total := e.ParentsRange(lone, 0, 10); es != nil || total != 0 {
		t.Fatalf("ParentsRange of a page without edges = %v, %d", es, total)
	}
	if es, total := e.ChildrenRange(PageID(1<<40), 0, 10); es != nil || total != 0 {
		t.Fatalf("ChildrenRange of no page = %v, %d", es, total)
	}

	every := e.Edges()
	for _, among := range [][]PageID{
		{hub, ids[0], ids[3], ids[4], ids[599]},           // the hub probed (5*4 < 800 edges)
		{sink, ids[5], hub, ids[500], ids[7], sink},       // a repeat; the sink scanned
		append(slices.Clone(ids[:n]), hub, PageID(1<<40)), // the hub scanned; an unknown ID
		{lone},
		nil,
	} {
		in := map[PageID]bool{}
		for _, id := range among {
			in[id] = true
		}
		var want []Edge
		for _, ed := range every {
			if in[ed.Parent] && in[ed.Child] {
				want = append(want, ed)
			}
		}
		if got := e.EdgesAmong(among); !slices.Equal(got, want) {
			t.Fatalf("EdgesAmong(%v) = %v, want %v", among, got, want)
		}
	}
}

// TestEdgesAmongInParts: EdgesAmong over pages with more edges than it
// reads in one hold of the lock reads them in parts, letting commits in
// between (it held the lock throughout: 16 million hub lookups for a
// 2,000-page view of pages with 8,000 parents each, commits stalled for
// seconds); an edge added between two parts, into a page read already,
// makes it read again, so that the answer is still the edges of one
// moment, here the moment after the edge.
func TestEdgesAmongInParts(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 8, 8)
	// Each of ids[:5] derives from ids[5:]: the children are read first.
	for _, c := range ids[:5] {
		for _, p := range ids[5:] {
			if err := e.AddEdge(ctx, p, c, EdgeData); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := edgesAmongBudget
	edgesAmongBudget = 4
	parts := 0
	edgesAmongPartHook = func() {
		parts++
		if parts == 1 {
			// Into ids[0], the first page read.
			if err := e.AddEdge(ctx, ids[5], ids[0], EdgeControl); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(func() { edgesAmongBudget, edgesAmongPartHook = old, nil })
	got := e.EdgesAmong(ids)
	if parts == 0 {
		t.Fatalf("EdgesAmong read %d edges in one hold of the lock, want parts of about %d lookups", len(got), edgesAmongBudget)
	}
	if want := e.Edges(); !slices.Equal(got, want) {
		t.Fatalf("EdgesAmong in %d parts = %v, want %v (the edges after the one added between parts)", parts, got, want)
	}
	// After edgesAmongTries restarts it reads in one hold: each part
	// adding an edge does not keep it reading for ever.
	parts = 0
	edgesAmongPartHook = func() {
		parts++
		if err := e.AddEdge(ctx, ids[6], ids[parts], EdgeControl); err != nil {
			t.Error(err)
		}
	}
	got = e.EdgesAmong(ids)
	if want := e.Edges(); parts != edgesAmongTries-1 || !slices.Equal(got, want) {
		t.Fatalf("EdgesAmong with an edge added after each part: %d parts, %v; want %d parts, %v", parts, got, edgesAmongTries-1, want)
	}
}
