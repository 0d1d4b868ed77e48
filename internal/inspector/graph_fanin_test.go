package inspector_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestGraphOfALargeFanIn: the graph of a page bound to 100,000 parents
// shows it and the first 1,999 of them, and marks each shown edge bound
// exactly when it is a data edge from one of the binding's parents: a
// control edge from a page outside the binding (X) is shown unbound (the
// bus refuses a data edge into a bound page from outside its binding, and
// Bind one beside a binding's parents). Graph read
// each binding's parents once into a set of shown pairs; it asked
// slices.Contains(binding.Parents, parent) for each edge (shown edges ×
// parents: 2,000 × 100,000 here). The work is not counted (no hook sees a
// comparison, and neither version allocates for it): this checks the
// answer is the one the bus's own edges and binding give.
func TestGraphOfALargeFanIn(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 100_000
	ids := createSmallPages(t, bus, n+2)
	// X has the lowest ID, so that it is among the parents shown.
	x, child, parents := ids[0], ids[n+1], ids[1:n+1]
	if err := bus.Bind(ctx, child, "f64.sum", nil, parents); err != nil {
		t.Fatal(err)
	}
	if err := bus.AddEdge(ctx, x, child, mmsb.EdgeControl); err != nil {
		t.Fatal(err)
	}
	inBinding := make(map[mmsb.PageID]bool, n)
	for _, p := range parents {
		inBinding[p] = true
	}
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	g, err := c.Graph(ctx, connect.NewRequest(&inspectorv1.GraphRequest{Page: uint64(child), MaxNodes: 2000}))
	if err != nil {
		t.Fatal(err)
	}
	if !g.Msg.Truncated || len(g.Msg.Nodes) != 2000 || g.Msg.Nodes[0].Id != uint64(child) {
		t.Fatalf("graph of page %d: %d nodes, truncated %v; want 2000, truncated, the page first", child, len(g.Msg.Nodes), g.Msg.Truncated)
	}
	shown := map[uint64]bool{}
	for _, nd := range g.Msg.Nodes {
		shown[nd.Id] = true
	}
	// The expected edges: the bus's edges into the page from shown pages,
	// in its order.
	var want []*inspectorv1.GraphEdge
	for _, e := range bus.Parents(child) {
		if shown[uint64(e.Parent)] {
			want = append(want, &inspectorv1.GraphEdge{Parent: uint64(e.Parent), Child: uint64(child), Type: e.Type.String(),
				Bound: e.Type == mmsb.EdgeData && inBinding[e.Parent]})
		}
	}
	if len(g.Msg.Edges) != len(want) || len(want) != 1999 {
		t.Fatalf("%d edges, want %d (bus) and 1999", len(g.Msg.Edges), len(want))
	}
	var bound int
	xShown := false
	for i, e := range g.Msg.Edges {
		w := want[i]
		if e.Parent != w.Parent || e.Child != w.Child || e.Type != w.Type || e.Bound != w.Bound {
			t.Fatalf("edge %d: %d -> %d %s bound %v, want %d -> %d %s bound %v", i, e.Parent, e.Child, e.Type, e.Bound, w.Parent, w.Child, w.Type, w.Bound)
		}
		if e.Bound {
			bound++
		}
		if e.Parent == uint64(x) {
			xShown = e.Type == mmsb.EdgeControl.String() && !e.Bound
		}
	}
	if !xShown {
		t.Fatalf("the control edge from page %d is not shown, unbound", x)
	}
	if bound != 1998 {
		t.Errorf("%d edges bound, want 1998 (the shown parents of the binding)", bound)
	}
}
