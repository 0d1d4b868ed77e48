package graph

import (
	"math"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestHubEdgesRemovedInLinearTime removes a hub's edges one at a time, in
// each of the ways a bus does it: RemoveEdge per child (RemoveEdge on the
// bus), per parent (Unbind of a page with that many parents, and Bind's
// trial edges), RemovePage of each child. Finding an edge used to scan the
// hub's whole block, so each pattern took time quadratic in the degree
// (~0.2 s and ~0.5 s at 50,000 edges, growing fourfold per doubling):
// at hubEdges = 2^19 the three take several minutes together, past any
// reasonable -timeout (e.g. -timeout 60s fails at once), where the hub
// index makes them take about a second. No timing is asserted: a
// quadratic path shows up as the test timing out.
func TestHubEdgesRemovedInLinearTime(t *testing.T) {
	if testing.Short() {
		t.Skip("half a million edges on one page")
	}
	const hubEdges = 1 << 19
	const hub = base.PageID(1)
	child := func(i int) base.PageID { return base.PageID(i + 2) }

	g := New()
	for i := 0; i < hubEdges; i++ {
		if _, err := g.AddEdge(hub, child(i), base.EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	// Adding every edge again must find each one (a no-op), also in the
	// hub's index.
	for i := 0; i < hubEdges; i += 7 {
		if added, err := g.AddEdge(hub, child(i), base.EdgeData); added || err != nil {
			t.Fatalf("AddEdge again = %v, %v", added, err)
		}
	}
	for i := 0; i < hubEdges; i++ {
		if !g.RemoveEdge(hub, child(i), base.EdgeData) {
			t.Fatalf("edge %d -> %d not found", hub, child(i))
		}
	}
	if g.NumEdges() != 0 || g.NumNodes() != 0 {
		t.Fatalf("%d edges, %d nodes left", g.NumEdges(), g.NumNodes())
	}

	for i := 0; i < hubEdges; i++ { // fan-in: hubEdges parents of one page
		if _, err := g.AddEdge(child(i), hub, base.EdgeControl); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < hubEdges; i++ {
		if !g.RemoveEdge(child(i), hub, base.EdgeControl) {
			t.Fatalf("edge %d -> %d not found", child(i), hub)
		}
	}

	for i := 0; i < hubEdges; i++ {
		if _, err := g.AddEdge(hub, child(i), base.EdgeGPUSync); err != nil {
			t.Fatal(err)
		}
	}
	for i := hubEdges - 1; i >= 0; i-- {
		if got := g.RemovePage(child(i)); len(got) != 1 {
			t.Fatalf("RemovePage(%d) = %v", child(i), got)
		}
	}
	if g.NumEdges() != 0 || g.NumNodes() != 0 || len(g.hubs) != 0 {
		t.Fatalf("%d edges, %d nodes, %d hub indexes left", g.NumEdges(), g.NumNodes(), len(g.hubs))
	}
	if err := g.checkHubIndex(); err != nil {
		t.Fatal(err)
	}
}

// TestHubIndexFollowsEdges checks the hub index of a node crossing the
// threshold both ways, with in- and out-edges interleaved (an out-entry
// added moves an in-entry), on page IDs at the top of the ID space.
func TestHubIndexFollowsEdges(t *testing.T) {
	g := New()
	const hub = base.PageID(math.MaxUint64)
	n := int(hubMin) + 100
	for i := 0; i < n; i++ {
		id := base.PageID(math.MaxUint64 - 1 - uint64(i))
		var err error
		if i%2 == 0 {
			_, err = g.AddEdge(hub, id, base.EdgeType(i%4))
		} else {
			_, err = g.AddEdge(id, hub, base.EdgeType(i%4))
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := g.checkHubIndex(); err != nil {
			t.Fatalf("after %d edges: %v", i+1, err)
		}
	}
	hn, _ := g.lookup(hub)
	if g.hubs[hn] == nil {
		t.Fatalf("page with %d edges has no hub index", n)
	}
	if got := g.TopoOrder(); len(got) != n+1 {
		t.Fatalf("TopoOrder has %d pages, want %d", len(got), n+1)
	}
	if err := g.CheckAcyclic(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		id := base.PageID(math.MaxUint64 - 1 - uint64(i))
		var ok bool
		if i%2 == 0 {
			ok = g.RemoveEdge(hub, id, base.EdgeType(i%4))
		} else {
			ok = g.RemoveEdge(id, hub, base.EdgeType(i%4))
		}
		if !ok {
			t.Fatalf("edge %d not found", i)
		}
		if err := g.checkHubIndex(); err != nil {
			t.Fatalf("after removing %d edges: %v", i+1, err)
		}
	}
	if len(g.hubs) != 0 {
		t.Fatalf("%d hub indexes left", len(g.hubs))
	}
}

// TestHubShrinksAfterRemovals: a page that had many edge ends and keeps
// few holds a block and a hub index sized for what it keeps, not for what
// it had: each only grew, so a page with a million parents that kept a
// thousand held ~16 MB for them until its last edge went. The edges kept
// are still found, through the index too, and the page can grow again.
func TestHubShrinksAfterRemovals(t *testing.T) {
	const had, kept = 40000, 600
	const hub = base.PageID(1)
	parent := func(i int) base.PageID { return base.PageID(i + 2) }
	g := New()
	for i := range had {
		if _, err := g.AddEdge(parent(i), hub, base.EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	for i := kept; i < had; i++ {
		if !g.RemoveEdge(parent(i), hub, base.EdgeData) {
			t.Fatalf("edge %d -> %d not found", parent(i), hub)
		}
	}
	n, _ := g.lookup(hub)
	blockCap, slots := len(g.adj(n)), 0
	if h := g.hub(n); h != nil {
		slots = len(h.slots)
	}
	if blockCap > 4*kept || slots > 8*kept {
		t.Fatalf("page with %d of its %d parents left: block of %d entries, hub index of %d slots; want at most %d and %d", kept, had, blockCap, slots, 4*kept, 8*kept)
	}
	if err := g.checkHubIndex(); err != nil {
		t.Fatal(err)
	}
	for i := range kept {
		if !g.HasEdge(parent(i), hub, base.EdgeData) {
			t.Fatalf("edge %d -> %d lost by the shrink", parent(i), hub)
		}
	}
	for i := kept; i < had; i++ { // and back
		if _, err := g.AddEdge(parent(i), hub, base.EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.checkHubIndex(); err != nil {
		t.Fatal(err)
	}
	if got := len(g.AppendParents(nil, hub)); got != had {
		t.Fatalf("%d parents after adding them back, want %d", got, had)
	}
}
