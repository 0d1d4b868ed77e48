package inspector_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestGraphCopiesOnlyShownEdges: a graph of 50 pages centred on a page
// with 2^16 incoming edges, and one centred on a parent of it (the big
// page among its children), allocate less than an eighth of one
// Bus.Parents of the big page (about 10 MB), and show the edges between
// the shown pages. Graph copied every incoming edge of each page it
// walked and showed (Bus.Parents), the big page's once for the walk and
// the edges when centred on it, and again for the edges when it was a
// child: MBs a view for a page with a large fan-in, 24 MiB for 2^20.
func TestGraphCopiesOnlyShownEdges(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 1 << 16
	ids := createSmallPages(t, bus, n+1)
	big := ids[n]
	if err := bus.Bind(ctx, big, "f64.sum", nil, ids[:n]); err != nil {
		t.Fatal(err)
	}
	in, _, _ := serveInspector(t, inspector.Options{Bus: bus})
	perCall := func(root mmsb.PageID) (uint64, *inspectorv1.GraphResponse) {
		req := &inspectorv1.GraphRequest{Page: uint64(root), MaxNodes: 50, Depth: 2}
		get := func() *inspectorv1.GraphResponse {
			r, err := inspector.GraphWith(ctx, in, req)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		get()
		const calls = 4
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var r *inspectorv1.GraphResponse
		for range calls {
			r = get()
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / calls, r
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if len(bus.Parents(big)) != n {
		t.Fatalf("page %d has not %d incoming edges", big, n)
	}
	runtime.ReadMemStats(&after)
	oneCopy := after.TotalAlloc - before.TotalAlloc
	for _, c := range []struct {
		root  mmsb.PageID
		edges int
	}{
		// The big page and 49 of its parents: 49 edges.
		{big, 49},
		// ids[0], a page without parents, and its one child, the big
		// page: the view is the two pages and their edge, which Graph
		// found in a copy of the big page's incoming edges.
		{ids[0], 1},
	} {
		bytes, r := perCall(c.root)
		t.Logf("Graph of page %d allocates %d bytes a call; one Bus.Parents of page %d, %d", c.root, bytes, big, oneCopy)
		if bytes > oneCopy/8 {
			t.Errorf("Graph of page %d allocated %d bytes a call; one Bus.Parents of page %d (%d incoming edges) is %d: it copies edges it does not show",
				c.root, bytes, big, n, oneCopy)
		}
		if len(r.Edges) != c.edges {
			t.Fatalf("graph of page %d: %d edges, want %d", c.root, len(r.Edges), c.edges)
		}
		for _, e := range r.Edges {
			if e.Child != uint64(big) || !e.Bound || e.Type != mmsb.EdgeData.String() {
				t.Fatalf("graph of page %d: edge %d -> %d %s bound %v; want data edges into %d, bound", c.root, e.Parent, e.Child, e.Type, e.Bound, big)
			}
		}
	}
}
