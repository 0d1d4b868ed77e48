package graph

import (
	"slices"

	"github.com/mmsb-go/mmsb/internal/base"
)

// follows reports whether entry e's type passes the filter (nil: all).
func follows(e uint32, types *[base.NumEdgeTypes]bool) bool {
	return types == nil || types[entType(e)]
}

// AppendDescendants appends every page reachable from any of roots (roots
// excluded unless reachable from another root) in deterministic topological
// order (among ready pages, smallest ID first). If types is non-nil only
// edges whose type is marked true are followed, and only those edges
// constrain the order. The work is proportional to the affected sub-graph,
// not the whole graph, and allocates nothing once dst and the internal
// scratch have grown.
func (g *Graph) AppendDescendants(dst []base.PageID, roots []base.PageID, types *[base.NumEdgeTypes]bool) []base.PageID {
	g.smu.Lock()
	defer g.smu.Unlock()
	s := g.prepare()
	gen := s.gen
	// 1. Collect the reachable set (stamped gen) into s.list.
	s.list = s.list[:0]
	s.stack = s.stack[:0]
	for _, r := range roots {
		if n, ok := g.lookup(r); ok {
			s.stack = append(s.stack, n)
		}
	}
	for len(s.stack) > 0 {
		n := s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		for _, e := range g.outs(n) {
			m := entNode(e)
			if !follows(e, types) || s.stamp[m] == gen {
				continue
			}
			s.stamp[m] = gen
			s.list = append(s.list, m)
			s.stack = append(s.stack, m)
		}
	}
	if len(s.list) == 0 {
		return dst
	}
	// 2. In-degrees counted only over edges inside the set: a root outside
	// the set is already up to date and does not hold its children back.
	for _, n := range s.list {
		s.aux[n] = 0
	}
	for _, n := range s.list {
		for _, e := range g.outs(n) {
			if follows(e, types) {
				s.aux[entNode(e)]++
			}
		}
	}
	// 3. Kahn with a min-heap on page ID (s.stack holds the heap).
	h := s.stack[:0]
	for _, n := range s.list {
		if s.aux[n] == 0 {
			h = g.heapPush(h, n)
		}
	}
	for len(h) > 0 {
		var n uint32
		n, h = g.heapPop(h)
		dst = append(dst, g.ids[n])
		for _, e := range g.outs(n) {
			if !follows(e, types) {
				continue
			}
			m := entNode(e)
			if s.aux[m]--; s.aux[m] == 0 {
				h = g.heapPush(h, m)
			}
		}
	}
	s.stack = h
	return dst
}

// heapPush and heapPop keep a binary min-heap of node numbers ordered by
// page ID, so that ready pages leave in ascending ID order.
func (g *Graph) heapPush(h []uint32, n uint32) []uint32 {
	h = append(h, n)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if g.ids[h[p]] <= g.ids[h[i]] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return h
}

func (g *Graph) heapPop(h []uint32) (uint32, []uint32) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && g.ids[h[l]] < g.ids[h[m]] {
			m = l
		}
		if r < last && g.ids[h[r]] < g.ids[h[m]] {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return top, h
}

// TopoOrder returns all pages with edges in deterministic topological order
// (among ready pages, smallest ID first). If the edges held a cycle (only
// possible through AddEdgeUnchecked) the pages on or behind it are missing.
func (g *Graph) TopoOrder() []base.PageID {
	g.smu.Lock()
	defer g.smu.Unlock()
	s := g.prepare()
	out := make([]base.PageID, 0, g.index.count)
	h := s.stack[:0]
	for n, id := range g.ids {
		if id == 0 {
			continue
		}
		s.aux[n] = g.nIn[n]
		if g.nIn[n] == 0 {
			h = g.heapPush(h, uint32(n))
		}
	}
	for len(h) > 0 {
		var n uint32
		n, h = g.heapPop(h)
		out = append(out, g.ids[n])
		for _, e := range g.outs(n) {
			m := entNode(e)
			if s.aux[m]--; s.aux[m] == 0 {
				h = g.heapPush(h, m)
			}
		}
	}
	s.stack = h
	return out
}

// CheckAcyclic runs a full acyclicity check (Kahn's algorithm over the whole
// graph) and returns a *CycleError if the edges contain a cycle. The graph
// keeps itself acyclic; this is the validator's independent check, so it
// shares nothing with the insert-time search but the storage. The reported
// cycle is deterministic: it is found from the smallest page ID left over.
func (g *Graph) CheckAcyclic() error {
	g.smu.Lock()
	defer g.smu.Unlock()
	s := g.prepare()
	if len(g.kahnLocked(s)) == g.index.count {
		return nil
	}
	return g.leftoverCycle(s)
}

// kahnLocked runs Kahn's algorithm over the whole graph and returns the
// nodes it could order (all of them iff the graph is acyclic), in the order
// it took them; s.aux holds the remaining in-degrees afterwards. It reads
// only the adjacency, never the maintained order, so CheckAcyclic stays an
// independent check. Caller holds g.smu.
func (g *Graph) kahnLocked(s *scratch) []uint32 {
	q := s.list[:0]
	for n, id := range g.ids {
		if id == 0 {
			continue
		}
		s.aux[n] = g.nIn[n]
		if g.nIn[n] == 0 {
			q = append(q, uint32(n))
		}
	}
	for i := 0; i < len(q); i++ {
		for _, e := range g.outs(q[i]) {
			m := entNode(e)
			if s.aux[m]--; s.aux[m] == 0 {
				q = append(q, m)
			}
		}
	}
	s.list = q
	return q
}

// leftoverCycle finds a cycle among the nodes Kahn could not release
// (aux > 0). Each such node has a parent that is also left over, so walking
// to the smallest such parent must revisit a node.
func (g *Graph) leftoverCycle(s *scratch) error {
	start := uint32(0)
	found := false
	for n, id := range g.ids {
		if id != 0 && s.aux[n] > 0 && (!found || id < g.ids[start]) {
			start, found = uint32(n), true
		}
	}
	gen := s.gen
	walk := s.stack[:0]
	n := start
	for s.stamp[n] != gen {
		s.stamp[n] = gen
		walk = append(walk, n)
		next, ok := uint32(0), false
		for _, e := range g.ins(n) {
			m := entNode(e)
			if s.aux[m] > 0 && (!ok || g.ids[m] < g.ids[next]) {
				next, ok = m, true
			}
		}
		n = next
	}
	s.stack = walk
	// walk goes child-wards to parents: walk[k] is a child of walk[k+1].
	// The cycle is walk[i:] where walk[i] == n; reverse it to edge order.
	i := slices.Index(walk, n)
	cyc := walk[i:]
	path := make([]base.PageID, len(cyc))
	for k, m := range cyc {
		path[len(cyc)-1-k] = g.ids[m]
	}
	// path[k] -> path[k+1] are edges, and the closing edge runs from
	// path[last] back to path[0].
	return &CycleError{Parent: path[len(path)-1], Child: path[0], Path: path}
}
