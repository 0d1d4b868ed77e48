package inspector_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestGraphReadsNoBindingParents: the graph of a page bound to 8,192
// parents allocates no more than the graph of a page with as many Data
// edges and no binding, and marks every Data edge of the first bound and
// none of the second. Graph read each shown derived page with
// Bus.Binding, which copies all its parents (64 KiB here, 8 MiB for 2^20)
// to mark which shown edges are the binding's; a derived page's Data
// edges are all its binding's, so the function name is enough. And the
// graph allocates less than 1.5 times one Bus.Parents of its centre: it
// copied the centre's incoming edges twice (the walk, then the edges).
func TestGraphReadsNoBindingParents(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 1 << 13
	ids := createSmallPages(t, bus, n+2)
	bound, plain := ids[n], ids[n+1]
	if err := bus.Bind(ctx, bound, "f64.sum", nil, ids[:n]); err != nil {
		t.Fatal(err)
	}
	for _, p := range ids[:n] {
		if err := bus.AddEdge(ctx, p, plain, mmsb.EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	in, _, _ := serveInspector(t, inspector.Options{Bus: bus})
	// Both graphs copy the root's n incoming edges (Bus.Parents); what a
	// view of the bound page allocates past one of the plain page is what
	// its binding costs.
	perCall := func(root mmsb.PageID) (uint64, *inspectorv1.GraphResponse) {
		req := &inspectorv1.GraphRequest{Page: uint64(root), MaxNodes: 50}
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
	plainBytes, pr := perCall(plain)
	boundBytes, br := perCall(bound)
	t.Logf("Graph allocates %d bytes a call of a page bound to %d parents, %d of one with as many data edges", boundBytes, n, plainBytes)
	if copyBytes := uint64(n * 8); boundBytes > plainBytes+copyBytes/4 {
		t.Errorf("Graph of a page bound to %d parents allocated %d bytes a call, %d more than of a page with as many data edges; a copy of its parents is %d",
			n, boundBytes, int64(boundBytes-plainBytes), copyBytes)
	}
	// The centre's incoming edges are copied once (Bus.Parents), not
	// again for the edges: about 2.3 MB a view here, 2 copies, before.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const calls = 4
	for range calls {
		if len(bus.Parents(plain)) != n {
			t.Fatalf("page %d has not %d incoming edges", plain, n)
		}
	}
	runtime.ReadMemStats(&after)
	oneCopy := (after.TotalAlloc - before.TotalAlloc) / calls
	t.Logf("Bus.Parents of the page allocates %d bytes", oneCopy)
	if plainBytes > oneCopy*3/2 {
		t.Errorf("Graph of a page with %d data edges allocated %d bytes a call; one Bus.Parents of it is %d (read twice?)", n, plainBytes, oneCopy)
	}
	for _, c := range []struct {
		r     *inspectorv1.GraphResponse
		bound bool
	}{{br, true}, {pr, false}} {
		if len(c.r.Edges) != 49 {
			t.Fatalf("%d edges, want 49 (50 nodes)", len(c.r.Edges))
		}
		for _, e := range c.r.Edges {
			if e.Bound != c.bound || e.Type != mmsb.EdgeData.String() {
				t.Fatalf("edge %d -> %d: %s, bound %v; want data, bound %v", e.Parent, e.Child, e.Type, e.Bound, c.bound)
			}
		}
	}
}
