package mmsb

import (
	"math"
	"slices"

	"github.com/mmsb-go/mmsb/internal/graph"
)

// ParentsRange returns up to limit of id's incoming edges, from the
// offset-th on (counted from 0, in Parents' order: by parent, then type),
// and how many incoming edges id has in all. Unlike Parents it copies only
// the edges asked for: Parents copies every one (24 MiB for a page with
// 2^20 incoming edges) for a caller that shows a few of them (the
// inspector's graph view). It reads the edges once, keeping the first
// offset+limit in 4 bytes of scratch each: paging far into a large fan-in
// costs that scratch and a scan per page.
//
// An offset below 0 counts as 0; an offset at or past the total, or a
// limit of 0 or less, returns no edges (and still the total), so that a
// caller pages through the edges with offset += limit until offset >=
// total, as with BindingParents.
func (e *Bus) ParentsRange(id PageID, offset, limit int) (edges []Edge, total int) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	es, total := e.graph.AppendParentsRange(nil, id, offset, limit)
	return edgesOut(es), total
}

// ChildrenRange is ParentsRange for id's outgoing edges, in Children's
// order (by child, then type).
func (e *Bus) ChildrenRange(id PageID, offset, limit int) (edges []Edge, total int) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	es, total := e.graph.AppendChildrenRange(nil, id, offset, limit)
	return edgesOut(es), total
}

// EdgesAmong returns every edge whose parent and child are both among
// ids, in Edges' order (by parent, child, type): the edges between the
// pages a caller shows (the inspector's graph view), all as they stood at
// one moment, which reading each page's Parents could not give, and
// without copying the edges to pages outside ids: a page among ids with a
// million incoming edges costs a lookup per page of ids and edge type.
// Repeated IDs count once; IDs that are no pages have no edges.
//
// Many pages that each have many parents (2,000 pages of 8,000 parents
// take 16 million lookups) are read a part at a time, letting commits in
// between; should an edge be added or removed meanwhile, the reading
// starts again, and after a few such restarts it holds commits off until
// it is done.
func (e *Bus) EdgesAmong(ids []PageID) []Edge {
	set := slices.Clone(ids)
	slices.Sort(set)
	set = slices.Compact(set)
	var es []graph.Edge
	for try := 1; ; try++ {
		budget := edgesAmongBudget
		if try >= edgesAmongTries {
			budget = math.MaxInt
		}
		es = es[:0]
		e.rlockSettled()
		g, changes := e.graph, e.graph.Changes()
		next := 0
		for {
			es, next = g.AppendEdgesAmongFrom(es, set, next, budget)
			if next == len(set) {
				e.mu.RUnlock()
				return sortedEdges(e, es)
			}
			// A commit waiting for the lock takes it before this
			// reader does again (sync.RWMutex).
			e.mu.RUnlock()
			if edgesAmongPartHook != nil {
				edgesAmongPartHook()
			}
			e.rlockSettled()
			if e.graph != g || g.Changes() != changes {
				break
			}
		}
		e.mu.RUnlock()
	}
}

// edgesAmongBudget is the work (entries scanned or lookups) EdgesAmong
// does in one hold of the bus's lock, a few milliseconds: a variable so
// that tests can read small graphs in parts. edgesAmongTries is the try
// on which it reads everything in one hold.
var (
	edgesAmongBudget = 1 << 16
	edgesAmongTries  = 4
)

// edgesAmongPartHook, when set (by tests), is called each time EdgesAmong
// has released the lock between two parts.
var edgesAmongPartHook func()
