package graph

import (
	"math"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"pgregory.net/rapid"
)

// TestPropertyRanged: on random graphs (edges added and removed, pages
// removed, IDs whose order is not the order the graph stores them in),
// with and without hub indexes, AppendParentsRange and
// AppendChildrenRange return AppendParents' and AppendChildren' edges
// [offset, offset+limit) cut to the degree, and the degree, for offsets
// and limits of 0, below 0, past the end and near the largest and
// smallest int; a page without edges has none. AppendEdgesAmongUnsorted
// returns, sorted, exactly the edges of the graph between the IDs asked
// for (sorted, without repeats, some not pages), through scans and hub
// probes alike, and so does AppendEdgesAmongFrom read in parts of any
// budget.
func TestPropertyRanged(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := New()
		useHubMin(t, rapid.SampledFrom(hubMins).Draw(t, "hubMin"))
		// IDs in no relation to the order pages first get edges.
		pool := rapid.SliceOfNDistinct(rapid.Uint64Range(1, math.MaxUint64), 2, 30, rapid.ID[uint64]).Draw(t, "pool")
		page := rapid.SampledFrom(pool)
		typ := rapid.Uint8Range(0, base.NumEdgeTypes-1)
		steps := rapid.IntRange(1, 300).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			p, c := base.PageID(page.Draw(t, "p")), base.PageID(page.Draw(t, "c"))
			ty := base.EdgeType(typ.Draw(t, "t"))
			switch rapid.IntRange(0, 19).Draw(t, "op") {
			default:
				_, _ = g.AddEdge(p, c, ty) // a cycle is refused: fine
			case 17, 18:
				g.RemoveEdge(p, c, ty)
			case 19:
				g.RemovePage(p)
			}
		}
		every := allEdges(g)
		bound := rapid.SampledFrom([]int{math.MinInt, -7, -1, 0, 1, 2, 3, 5, 8, 13, 40, 100, math.MaxInt - 1, math.MaxInt})
		for _, id := range append(slices.Clone(pool), 0) {
			ins := g.AppendParents(nil, base.PageID(id))
			outs := g.AppendChildren(nil, base.PageID(id))
			for range 4 {
				offset, limit := bound.Draw(t, "offset"), bound.Draw(t, "limit")
				got, total := g.AppendParentsRange(nil, base.PageID(id), offset, limit)
				if want := window(ins, offset, limit); total != len(ins) || !slices.Equal(got, want) {
					t.Fatalf("AppendParentsRange(%d, %d, %d) = %v (%d), want %v (%d)", id, offset, limit, got, total, want, len(ins))
				}
				got, total = g.AppendChildrenRange(nil, base.PageID(id), offset, limit)
				if want := window(outs, offset, limit); total != len(outs) || !slices.Equal(got, want) {
					t.Fatalf("AppendChildrenRange(%d, %d, %d) = %v (%d), want %v (%d)", id, offset, limit, got, total, want, len(outs))
				}
			}
		}
		ids := rapid.SliceOf(rapid.SampledFrom(append(slices.Clone(pool), 1<<62))).Draw(t, "ids")
		slices.Sort(ids)
		ids = slices.Compact(ids)
		among := make([]base.PageID, len(ids))
		in := map[base.PageID]bool{}
		for i, id := range ids {
			among[i] = base.PageID(id)
			in[among[i]] = true
		}
		var want []Edge
		for _, e := range every {
			if in[e.Parent] && in[e.Child] {
				want = append(want, e)
			}
		}
		got := g.AppendEdgesAmongUnsorted(nil, among)
		slices.SortFunc(got, compareEdges)
		if !slices.Equal(got, want) {
			t.Fatalf("AppendEdgesAmongUnsorted(%v) = %v, want %v", among, got, want)
		}
		// Read in parts of a small budget, each part reads at least
		// one child and the parts together read the same edges.
		budget := rapid.IntRange(-1, 20).Draw(t, "budget")
		got = got[:0]
		for next, parts := 0, 0; next < len(among); parts++ {
			prev := next
			got, next = g.AppendEdgesAmongFrom(got, among, next, budget)
			if next <= prev || parts > len(among) {
				t.Fatalf("AppendEdgesAmongFrom(%v, from %d, budget %d) went on to %d", among, prev, budget, next)
			}
		}
		slices.SortFunc(got, compareEdges)
		if !slices.Equal(got, want) {
			t.Fatalf("AppendEdgesAmongFrom(%v) in parts of budget %d = %v, want %v", among, budget, got, want)
		}
	})
}

// window is es[offset:offset+limit] as the ranged reads define it: an
// offset below 0 counts as 0, and the window is cut at the end.
func window(es []Edge, offset, limit int) []Edge {
	from := min(max(offset, 0), len(es))
	n := min(max(limit, 0), len(es)-from)
	if n == 0 {
		return nil
	}
	return es[from : from+n]
}
