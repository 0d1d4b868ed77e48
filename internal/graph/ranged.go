package graph

import (
	"math"
	"slices"

	"github.com/mmsb-go/mmsb/internal/base"
)

// AppendParentsRange appends the offset-th to the (offset+limit-1)-th of
// id's incoming edges in AppendParents' order (by parent, then type), and
// returns id's in-degree. Unlike AppendParents it copies only the edges
// asked for: it keeps the first offset+limit in a bounded heap of 4-byte
// entries (see firstEntries), so that a caller showing the first few of a
// million edges does not copy the million. An offset below 0 counts as 0;
// an offset past the in-degree or a limit of 0 or less appends nothing.
func (g *Graph) AppendParentsRange(dst []Edge, id base.PageID, offset, limit int) ([]Edge, int) {
	n, ok := g.lookup(id)
	if !ok {
		return dst, 0
	}
	ins := g.ins(n)
	for _, e := range g.firstEntries(ins, offset, limit) {
		dst = append(dst, Edge{Parent: g.ids[entNode(e)], Child: id, Type: entType(e)})
	}
	return dst, len(ins)
}

// AppendChildrenRange is AppendParentsRange for id's outgoing edges, in
// AppendChildren's order (by child, then type); it returns id's
// out-degree.
func (g *Graph) AppendChildrenRange(dst []Edge, id base.PageID, offset, limit int) ([]Edge, int) {
	n, ok := g.lookup(id)
	if !ok {
		return dst, 0
	}
	outs := g.outs(n)
	for _, e := range g.firstEntries(outs, offset, limit) {
		dst = append(dst, Edge{Parent: id, Child: g.ids[entNode(e)], Type: entType(e)})
	}
	return dst, len(outs)
}

// entryLess orders adjacency entries by their node's page ID, then type:
// the order of one node's parents or children in CompareEdges.
func (g *Graph) entryLess(a, b uint32) bool {
	ia, ib := g.ids[entNode(a)], g.ids[entNode(b)]
	if ia != ib {
		return ia < ib
	}
	return entType(a) < entType(b)
}

// firstEntries returns the entries of es at positions [offset,
// offset+limit) in entryLess order, in a new slice. es is a node's
// adjacency, which a reader must not reorder; it is read once, keeping the
// smallest offset+limit entries seen in a max-heap, so the scratch is 4
// bytes per entry up to offset+limit, not per entry of es.
func (g *Graph) firstEntries(es []uint32, offset, limit int) []uint32 {
	offset = min(max(offset, 0), len(es))
	// len(es)-offset, not offset+limit: the sum overflows for a limit
	// near the largest int.
	n := min(max(limit, 0), len(es)-offset)
	if n == 0 {
		return nil
	}
	keep := offset + n
	h := make([]uint32, 0, keep)
	for _, e := range es {
		if len(h) < keep {
			h = append(h, e)
			// Sift up: a max-heap, the largest kept entry at h[0].
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !g.entryLess(h[p], h[i]) {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
			continue
		}
		if !g.entryLess(e, h[0]) {
			continue
		}
		h[0] = e
		for i := 0; ; {
			c := 2*i + 1
			if c >= len(h) {
				break
			}
			if c+1 < len(h) && g.entryLess(h[c], h[c+1]) {
				c++
			}
			if !g.entryLess(h[i], h[c]) {
				break
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	slices.SortFunc(h, func(a, b uint32) int {
		if g.entryLess(a, b) {
			return -1
		}
		if g.entryLess(b, a) {
			return 1
		}
		return 0
	})
	return h[offset:]
}

// AppendEdgesAmongUnsorted appends every edge whose parent and child are
// both in ids, in no particular order (see AppendChildrenUnsorted); ids
// must be sorted ascending, without repeats. See AppendEdgesAmongFrom.
func (g *Graph) AppendEdgesAmongUnsorted(dst []Edge, ids []base.PageID) []Edge {
	dst, _ = g.AppendEdgesAmongFrom(dst, ids, 0, math.MaxInt)
	return dst
}

// AppendEdgesAmongFrom appends, in no particular order, the edges whose
// child is among ids[from:] and whose parent is among ids (sorted
// ascending, without repeats), child after child until the work done
// reaches budget (one unit a child, an entry scanned or a probe), and
// returns the index in ids of the next child to read: len(ids) once all
// are. It reads at least one child, so that a caller reading ids in parts
// (releasing the graph's lock in between: EdgesAmong) always progresses.
//
// It reads no more than it must: a child's incoming edges are scanned
// when they are fewer than the probes that would replace them (one per
// page of ids and edge type) or when it has no hub index, else each
// candidate edge is looked up (one probe of the hub index), so a page
// with a million incoming edges costs len(ids)*NumEdgeTypes probes, not a
// copy of the million. That is still len(ids)^2*NumEdgeTypes probes for
// ids that are all hubs, 16 million for a 2,000-page view: hence the
// budget.
func (g *Graph) AppendEdgesAmongFrom(dst []Edge, ids []base.PageID, from, budget int) ([]Edge, int) {
	probes := len(ids) * base.NumEdgeTypes
	work := 0
	start := max(from, 0)
	i := start
	for ; i < len(ids) && (i == start || work < budget); i++ {
		child := ids[i]
		work++
		c, ok := g.lookup(child)
		if !ok || g.nIn[c] == 0 {
			continue
		}
		// Without a hub index a probe is a scan of the node's block:
		// one scan, then, rather than a probe per candidate.
		if int(g.nIn[c]) <= probes || g.hub(c) == nil {
			work += int(g.nIn[c])
			for _, e := range g.ins(c) {
				p := g.ids[entNode(e)]
				if _, in := slices.BinarySearch(ids, p); in {
					dst = append(dst, Edge{Parent: p, Child: child, Type: entType(e)})
				}
			}
			continue
		}
		work += probes
		for _, parent := range ids {
			p, ok := g.lookup(parent)
			if !ok || p == c {
				continue
			}
			for t := range base.EdgeType(base.NumEdgeTypes) {
				if g.findIn(c, pack(p, t)) >= 0 {
					dst = append(dst, Edge{Parent: parent, Child: child, Type: t})
				}
			}
		}
	}
	return dst, i
}
