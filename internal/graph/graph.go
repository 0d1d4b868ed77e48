// Package graph is the ShadowPageGraph: typed dependency edges parent ->
// child between pages, kept acyclic on every insert, with deterministic
// topological order (ties broken by page ID).
//
// Storage is compact and pointer-free: page IDs map to dense uint32 node
// numbers (freed numbers are reused), and each node's edges live in one
// block of a slab arena, one uint32 per edge end with the edge type in the
// top two bits. A million pages with four million edges take well under
// 100 MB of heap; see docs/graph.md.
package graph

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/mmsb-go/mmsb/internal/base"
)

// ErrCycle means the edge would close a cycle (or is a self-loop).
var ErrCycle = errors.New("graph: cycle")

// ErrInvalidEdge means an edge names page 0, an unknown edge type, or the graph
// has run out of node numbers.
var ErrInvalidEdge = errors.New("graph: invalid edge")

// CycleError names the pages of the cycle an edge would have closed:
// Path[0] is the child of the refused edge, Path[len-1] its parent, and each
// consecutive pair is an existing edge.
type CycleError struct {
	Parent, Child base.PageID
	Path          []base.PageID
}

func (e *CycleError) Error() string {
	return fmt.Sprintf("graph: edge %d -> %d would close cycle %v", e.Parent, e.Child, e.Path)
}

// Unwrap makes errors.Is(err, ErrCycle) true.
func (e *CycleError) Unwrap() error { return ErrCycle }

// Edge is a typed dependency.
type Edge struct {
	Parent, Child base.PageID
	Type          base.EdgeType
}

// compareEdges orders edges by (parent, child, type).
func compareEdges(a, b Edge) int {
	switch {
	case a.Parent != b.Parent:
		return cmpID(a.Parent, b.Parent)
	case a.Child != b.Child:
		return cmpID(a.Child, b.Child)
	}
	return int(a.Type) - int(b.Type)
}

func cmpID(a, b base.PageID) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// Graph holds the edges. Mutations (AddEdge, Remove*) must be serialised by
// the caller and must not run concurrently with queries. Queries may run
// concurrently with each other: those that need scratch space share one
// reusable set guarded by an internal mutex, which is what makes them
// allocation-free in steady state.
type Graph struct {
	index idIndex
	ids   []base.PageID // node -> page ID; 0 for a free node number
	freeN []uint32      // free node numbers, reused LIFO
	// Per node: arena offset and class of its block, out- and in-degree.
	off  []uint32
	cls  []uint8
	nOut []uint32
	nIn  []uint32

	arena  arena
	nEdges int
	// changes counts the edge set's changes (Changes).
	changes uint64

	// hubs holds the position index of every node with at least hubMin
	// edge ends (see hub.go): without it, finding one edge of a hub
	// scans the hub's block, and removing a hub's edges one at a time
	// took quadratic time.
	hubs map[uint32]*hubTable

	// Maintained topological order for the insert-time cycle check; see
	// topo.go. 4 bytes per node.
	ord          []uint32
	ordLo, ordHi uint32 // live nodes' ord values lie in [ordLo, ordHi)
	ordState     uint8

	smu sync.Mutex
	s   scratch
}

// scratch is the reusable working space of traversals.
type scratch struct {
	stamp []uint32 // stamp[n] == gen: n visited in the current traversal
	gen   uint32
	aux   []uint32 // per node: DFS predecessor or Kahn in-degree
	stack []uint32
	list  []uint32
	back  []uint32 // reorder: the backward set
	pool  []uint32 // reorder: the ord values being redistributed
	// reorder's four search stacks: forward and backward, inside the
	// window and outside it.
	fIn, fOut, bIn, bOut []uint32
	// backEdges counts the in-edges reorder's backward search has looked
	// at, for TestRefusedEdgeReadsFewParents (one add per turn).
	backEdges uint64
}

// New returns an empty graph.
func New() *Graph { return &Graph{ordLo: ordMid, ordHi: ordMid} }

// lookup returns the node number of id.
func (g *Graph) lookup(id base.PageID) (uint32, bool) { return g.index.find(g.ids, id) }

// adj returns n's block: out-entries in [:nOut[n]], in-entries after them.
func (g *Graph) adj(n uint32) []uint32 {
	if g.cls[n] == bigClass {
		return g.arena.big[n]
	}
	return g.arena.block(g.cls[n], g.off[n])
}

func (g *Graph) outs(n uint32) []uint32 { return g.adj(n)[:g.nOut[n]] }
func (g *Graph) ins(n uint32) []uint32  { return g.adj(n)[g.nOut[n] : g.nOut[n]+g.nIn[n]] }

// node returns id's node number, creating the node if absent. A created
// node is placed first in the maintained order if it is about to become a
// parent (first), else last, so that its first edge agrees with the order.
func (g *Graph) node(id base.PageID, first bool) uint32 {
	if n, ok := g.lookup(id); ok {
		return n
	}
	o := g.nextOrd(first)
	var n uint32
	if k := len(g.freeN); k > 0 {
		n = g.freeN[k-1]
		g.freeN = g.freeN[:k-1]
		g.ids[n] = id
	} else {
		n = uint32(len(g.ids))
		g.ids = append(g.ids, id)
		g.off = append(g.off, 0)
		g.cls = append(g.cls, 0)
		g.nOut = append(g.nOut, 0)
		g.nIn = append(g.nIn, 0)
		g.ord = append(g.ord, 0)
	}
	g.ord[n] = o
	g.cls[n] = 0
	g.off[n] = g.arena.alloc(0)
	g.nOut[n], g.nIn[n] = 0, 0
	g.index.insert(g.ids, n)
	return n
}

// dropIfBare frees n's block and number once it has no edge left, so that
// NumNodes counts exactly the pages with edges.
func (g *Graph) dropIfBare(n uint32) {
	if g.nOut[n]+g.nIn[n] != 0 {
		return
	}
	g.freeBlock(n)
	delete(g.hubs, n) // a no-op for a non-hub (and a nil map)
	g.index.remove(g.ids, g.ids[n])
	g.ids[n] = 0
	g.freeN = append(g.freeN, n)
}

func (g *Graph) freeBlock(n uint32) {
	if g.cls[n] == bigClass {
		g.arena.live -= int64(cap(g.arena.big[n]))
		delete(g.arena.big, n)
	} else {
		g.arena.release(g.cls[n], g.off[n])
	}
}

// reserve makes n's block hold at least one more entry.
func (g *Graph) reserve(n uint32) []uint32 {
	b := g.adj(n)
	used := g.nOut[n] + g.nIn[n]
	if int(used) < len(b) {
		return b
	}
	c := classFor(used + 1)
	var nb []uint32
	if c == bigClass {
		nb = make([]uint32, 2*(used+1))
		if g.arena.big == nil {
			g.arena.big = make(map[uint32][]uint32)
		}
		g.arena.live += int64(len(nb))
		copy(nb, b[:used])
		g.freeBlock(n)
		g.arena.big[n] = nb
		g.cls[n] = bigClass
		return nb
	}
	off := g.arena.alloc(c)
	nb = g.arena.block(c, off)
	copy(nb, b[:used])
	g.freeBlock(n)
	g.cls[n], g.off[n] = c, off
	return nb
}

func (g *Graph) pushOut(n, e uint32) {
	b := g.reserve(n)
	o, i := g.nOut[n], g.nIn[n]
	h := g.hub(n)
	moved := -1 // the hub slot of the in-entry that moves
	if h != nil && i > 0 {
		moved = g.hubSlot(n, h, b[o], true)
	}
	if i > 0 {
		b[o+i] = b[o] // make room: the first in-entry moves to the end
	}
	b[o] = e
	g.nOut[n]++
	if h != nil {
		if moved >= 0 {
			h.slots[moved] = o + i + 1
		}
		g.hubInsert(n, h, o)
	}
	g.indexIfHub(n)
}

func (g *Graph) pushIn(n, e uint32) {
	b := g.reserve(n)
	k := g.nOut[n] + g.nIn[n]
	b[k] = e
	g.nIn[n]++
	if h := g.hub(n); h != nil {
		g.hubInsert(n, h, k)
	}
	g.indexIfHub(n)
}

// delOut removes the out-entry at position k of n's block.
func (g *Graph) delOut(n uint32, k uint32) {
	b := g.adj(n)
	o, i := g.nOut[n], g.nIn[n]
	h := g.hub(n)
	movedOut, movedIn := -1, -1 // hub slots of the entries that move
	if h != nil {
		// While the block still holds every entry where the index says.
		g.hubRemove(n, h, b[k], false)
		if k != o-1 {
			movedOut = g.hubSlot(n, h, b[o-1], false)
		}
		if i > 0 {
			movedIn = g.hubSlot(n, h, b[o+i-1], true)
		}
	}
	b[k] = b[o-1]
	b[o-1] = b[o+i-1] // the last in-entry fills the out-segment's hole
	g.nOut[n]--
	if movedOut >= 0 {
		h.slots[movedOut] = k + 1
	}
	if movedIn >= 0 {
		h.slots[movedIn] = o // position o-1, plus one
	}
	g.shrinkBlock(n)
	g.unindexIfSmall(n)
}

// delIn removes in-entry e of n.
func (g *Graph) delIn(n uint32, e uint32) {
	k := g.findIn(n, e)
	if k < 0 {
		panic("graph: in-entry missing for an existing out-entry")
	}
	b := g.adj(n)
	last := g.nOut[n] + g.nIn[n] - 1
	h := g.hub(n)
	moved := -1
	if h != nil {
		g.hubRemove(n, h, e, true)
		if uint32(k) != last {
			moved = g.hubSlot(n, h, b[last], true)
		}
	}
	b[k] = b[last]
	g.nIn[n]--
	if moved >= 0 {
		h.slots[moved] = uint32(k) + 1
	}
	g.shrinkBlock(n)
	g.unindexIfSmall(n)
}

// shrinkMinCap is the block capacity (in entries) up to which a block is
// never moved to a smaller one: 256 bytes, nothing to win. A variable
// only so that the property tests can move small graphs' blocks too.
var shrinkMinCap = 64

// shrinkBlock moves n's block, once its edge ends fill less than a
// quarter of it, to one of about twice their number (a class block where
// that fits, else a smaller one of its own). Blocks only grew, so a page
// that had a million parents and kept a thousand held a block sized for
// the million, 8 MB, until its last edge went
// (TestHubShrinksAfterRemovals). Entries keep their positions, so a hub
// index stays valid. Moving at a quarter, to half full, costs one copy per
// halving of the count, and a block grown again is full before it moves.
func (g *Graph) shrinkBlock(n uint32) {
	b := g.adj(n)
	used := g.nOut[n] + g.nIn[n]
	if used == 0 || len(b) <= shrinkMinCap || uint64(used)*4 >= uint64(len(b)) {
		return // dropIfBare frees a bare node's block
	}
	c := classFor(2 * used)
	if c == bigClass { // so n's block is its own already: a class block is smaller
		nb := make([]uint32, 2*used)
		copy(nb, b[:used])
		g.arena.live += int64(len(nb)) - int64(cap(b))
		g.arena.big[n] = nb
		return
	}
	off := g.arena.alloc(c)
	copy(g.arena.block(c, off), b[:used])
	g.freeBlock(n)
	g.cls[n], g.off[n] = c, off
}

func findEntry(s []uint32, e uint32) int {
	for k, v := range s {
		if v == e {
			return k
		}
	}
	return -1
}

// AddEdge adds parent -> child of type t. Adding an identical edge again is
// a no-op (added=false). An edge that would close a cycle, including a
// self-loop, returns a *CycleError and leaves the graph unchanged. The
// check uses a maintained topological order (Pearce–Kelly): an edge that
// agrees with it costs O(1); otherwise only the pages ordered between child
// and parent are searched and reordered. Page 0 or an unknown type is
// refused with ErrInvalidEdge.
func (g *Graph) AddEdge(parent, child base.PageID, t base.EdgeType) (added bool, err error) {
	if parent == 0 || child == 0 || t >= base.NumEdgeTypes {
		return false, fmt.Errorf("graph: edge %d -> %d type %d: %w", parent, child, t, ErrInvalidEdge)
	}
	if parent == child {
		return false, &CycleError{Parent: parent, Child: child, Path: []base.PageID{child}}
	}
	p, pok := g.lookup(parent)
	c, cok := g.lookup(child)
	if pok && cok {
		if g.findOut(p, pack(c, t)) >= 0 {
			return false, nil
		}
		if path := g.checkInsert(p, c); path != nil {
			return false, &CycleError{Parent: parent, Child: child, Path: path}
		}
	}
	if len(g.freeN) < 2 && len(g.ids)+2 > maxNodes {
		return false, fmt.Errorf("graph: edge %d -> %d: more than %d nodes: %w", parent, child, maxNodes, ErrInvalidEdge)
	}
	p = g.node(parent, true)
	c = g.node(child, false)
	g.pushOut(p, pack(c, t))
	g.pushIn(c, pack(p, t))
	g.nEdges++
	g.changes++
	return true, nil
}

// AddEdgeUnchecked adds parent -> child of type t without the cycle check.
// It exists for validator negative tests only (to prove that CheckAcyclic
// catches a cycle); production code must use AddEdge. It still refuses
// duplicates and invalid edges. An edge against the maintained order marks
// the order stale: the next AddEdge rebuilds it with a full Kahn pass, or,
// while the edges hold a cycle, checks with a plain DFS instead.
func (g *Graph) AddEdgeUnchecked(parent, child base.PageID, t base.EdgeType) bool {
	if parent == 0 || child == 0 || t >= base.NumEdgeTypes {
		return false
	}
	p := g.node(parent, true)
	c := g.node(child, false)
	if g.findOut(p, pack(c, t)) >= 0 {
		return false
	}
	g.pushOut(p, pack(c, t))
	g.pushIn(c, pack(p, t))
	g.nEdges++
	g.changes++
	if g.ordState == ordValid && g.ord[p] >= g.ord[c] {
		g.ordState = ordStale
	}
	return true
}

// pathTo returns the path from -> ... -> to along out-edges, or nil if to
// is unreachable. It visits only what is reachable from from.
func (g *Graph) pathTo(from, to uint32) []base.PageID {
	g.smu.Lock()
	defer g.smu.Unlock()
	s := g.prepare()
	defer s.shed()
	gen := s.gen
	s.stamp[from] = gen
	s.stack = append(s.stack[:0], from)
	found := false
	for len(s.stack) > 0 && !found {
		n := s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		for _, e := range g.outs(n) {
			m := entNode(e)
			if s.stamp[m] == gen {
				continue
			}
			s.stamp[m] = gen
			s.aux[m] = n
			if m == to {
				found = true
				break
			}
			s.stack = append(s.stack, m)
		}
	}
	if !found {
		return nil
	}
	return g.tracePath(s, from, to)
}

// tracePath builds the page path from -> ... -> to by following the
// search predecessors in s.aux back from to. Caller holds smu.
func (g *Graph) tracePath(s *scratch, from, to uint32) []base.PageID {
	k := 1
	for n := to; n != from; n = s.aux[n] {
		k++
	}
	path := make([]base.PageID, k)
	for n, i := to, k-1; ; n, i = s.aux[n], i-1 {
		path[i] = g.ids[n]
		if n == from {
			break
		}
	}
	return path
}

// prepare sizes the scratch arrays to the node count and starts a new
// traversal generation. Caller holds smu.
func (g *Graph) prepare() *scratch {
	s := &g.s
	if len(s.stamp) < len(g.ids) {
		n := cap(g.ids)
		s.stamp = append(s.stamp, make([]uint32, n-len(s.stamp))...)
		s.aux = append(s.aux, make([]uint32, n-len(s.aux))...)
	}
	s.nextGen()
	return s
}

// nextGen starts a new traversal generation and returns it: a second one
// lets a traversal mark nodes two ways (reorder). Caller holds smu.
func (s *scratch) nextGen() uint32 {
	s.gen++
	if s.gen == 0 { // wrapped: old stamps could collide with new ones
		clear(s.stamp)
		s.gen = 1
	}
	return s.gen
}

// RemoveEdge removes parent -> child of type t; it reports whether it existed.
func (g *Graph) RemoveEdge(parent, child base.PageID, t base.EdgeType) bool {
	if t >= base.NumEdgeTypes {
		return false
	}
	p, ok1 := g.lookup(parent)
	c, ok2 := g.lookup(child)
	if !ok1 || !ok2 {
		return false
	}
	k := g.findOut(p, pack(c, t))
	if k < 0 {
		return false
	}
	g.delOut(p, uint32(k))
	g.delIn(c, pack(p, t))
	g.nEdges--
	g.changes++
	g.dropIfBare(p)
	g.dropIfBare(c)
	g.edgeRemoved()
	return true
}

// RemoveEdges removes every edge parent -> child of any type; returns how many.
func (g *Graph) RemoveEdges(parent, child base.PageID) int {
	removed := 0
	for t := base.EdgeType(0); t < base.NumEdgeTypes; t++ {
		if g.RemoveEdge(parent, child, t) {
			removed++
		}
	}
	return removed
}

// RemovePage removes every edge into or out of id and returns them, sorted.
func (g *Graph) RemovePage(id base.PageID) []Edge {
	n, ok := g.lookup(id)
	if !ok {
		return nil
	}
	edges := make([]Edge, 0, g.nOut[n]+g.nIn[n])
	for _, e := range g.outs(n) {
		m := entNode(e)
		edges = append(edges, Edge{Parent: id, Child: g.ids[m], Type: entType(e)})
		g.delIn(m, pack(n, entType(e)))
		g.dropIfBare(m)
	}
	for _, e := range g.ins(n) {
		m := entNode(e)
		edges = append(edges, Edge{Parent: g.ids[m], Child: id, Type: entType(e)})
		g.delOut(m, uint32(g.findOut(m, pack(n, entType(e)))))
		g.dropIfBare(m)
	}
	g.nEdges -= len(edges)
	g.changes += uint64(len(edges))
	g.nOut[n], g.nIn[n] = 0, 0
	g.dropIfBare(n)
	if len(edges) > 0 {
		g.edgeRemoved()
	}
	slices.SortFunc(edges, compareEdges)
	return edges
}

// edgeRemoved notes a removal: it never invalidates a valid order, but it
// may have broken the cycle that made the last rebuild fail.
func (g *Graph) edgeRemoved() {
	if g.ordState == ordCyclic {
		g.ordState = ordStale
	}
}

// HasEdge reports whether the edge parent -> child of type t exists. It
// costs a scan of parent's out-edges, or one probe of its hub index.
func (g *Graph) HasEdge(parent, child base.PageID, t base.EdgeType) bool {
	p, ok1 := g.lookup(parent)
	c, ok2 := g.lookup(child)
	return ok1 && ok2 && t < base.NumEdgeTypes && g.findOut(p, pack(c, t)) >= 0
}

// HasEdges reports whether id has any edge.
func (g *Graph) HasEdges(id base.PageID) bool {
	_, ok := g.lookup(id)
	return ok // nodes are dropped with their last edge
}

// AppendChildren appends id's outgoing edges, sorted by (child, type).
func (g *Graph) AppendChildren(dst []Edge, id base.PageID) []Edge {
	start := len(dst)
	dst = g.AppendChildrenUnsorted(dst, id)
	slices.SortFunc(dst[start:], compareEdges)
	return dst
}

// AppendChildrenUnsorted appends id's outgoing edges in no particular
// order, for a caller that sorts them (CompareEdges) after releasing the
// lock that guards the graph.
func (g *Graph) AppendChildrenUnsorted(dst []Edge, id base.PageID) []Edge {
	n, ok := g.lookup(id)
	if !ok {
		return dst
	}
	for _, e := range g.outs(n) {
		dst = append(dst, Edge{Parent: id, Child: g.ids[entNode(e)], Type: entType(e)})
	}
	return dst
}

// AppendParents appends id's incoming edges, sorted by (parent, type).
func (g *Graph) AppendParents(dst []Edge, id base.PageID) []Edge {
	start := len(dst)
	dst = g.AppendParentsUnsorted(dst, id)
	slices.SortFunc(dst[start:], compareEdges)
	return dst
}

// AppendParentsUnsorted appends id's incoming edges in no particular
// order (see AppendChildrenUnsorted).
func (g *Graph) AppendParentsUnsorted(dst []Edge, id base.PageID) []Edge {
	n, ok := g.lookup(id)
	if !ok {
		return dst
	}
	for _, e := range g.ins(n) {
		dst = append(dst, Edge{Parent: g.ids[entNode(e)], Child: id, Type: entType(e)})
	}
	return dst
}

// AppendEdgesUnsorted appends every edge in no particular order (see
// AppendChildrenUnsorted); sorted by CompareEdges, they are Edges' order.
func (g *Graph) AppendEdgesUnsorted(dst []Edge) []Edge {
	for n, id := range g.ids {
		if id == 0 {
			continue
		}
		for _, e := range g.outs(uint32(n)) {
			dst = append(dst, Edge{Parent: id, Child: g.ids[entNode(e)], Type: entType(e)})
		}
	}
	return dst
}

// CompareEdges orders edges by (parent, child, type), as Edges lists them.
func CompareEdges(a, b Edge) int { return compareEdges(a, b) }

// Edges calls fn for every edge in (parent, child, type) order; it stops
// early if fn returns false. fn must not modify the graph.
func (g *Graph) Edges(fn func(Edge) bool) {
	nodes := make([]uint32, 0, g.index.count)
	for n, id := range g.ids {
		if id != 0 {
			nodes = append(nodes, uint32(n))
		}
	}
	slices.SortFunc(nodes, func(a, b uint32) int { return cmpID(g.ids[a], g.ids[b]) })
	var buf []Edge
	for _, n := range nodes {
		buf = g.AppendChildren(buf[:0], g.ids[n])
		for _, e := range buf {
			if !fn(e) {
				return
			}
		}
	}
}

// Changes returns a count of the changes to the edge set so far (edges
// added and removed): a reader that reads the graph in parts, releasing
// the lock that guards it in between, compares it before and after to
// know whether what it read is still one picture (EdgesAmong's).
func (g *Graph) Changes() uint64 { return g.changes }

// NumEdges returns the number of edges.
func (g *Graph) NumEdges() int { return g.nEdges }

// NumNodes returns the number of pages with at least one edge.
func (g *Graph) NumNodes() int { return g.index.count }

// MemoryBytes estimates the graph's heap footprint: index slots, per-node
// arrays (the maintained order included), arena chunks and free lists, hub
// position indexes, and the traversal scratch.
func (g *Graph) MemoryBytes() int64 {
	b := int64(cap(g.index.slots)) * 4
	b += int64(cap(g.ids))*8 + int64(cap(g.off)+cap(g.nOut)+cap(g.nIn)+cap(g.ord))*4 + int64(cap(g.cls))
	b += int64(cap(g.freeN)) * 4
	b += int64(len(g.arena.chunks)) * chunkSize * 4
	for _, fl := range g.arena.free {
		b += int64(cap(fl)) * 4
	}
	for _, blk := range g.arena.big {
		b += int64(cap(blk))*4 + 48
	}
	for _, h := range g.hubs {
		b += int64(cap(h.slots))*4 + 64
	}
	g.smu.Lock()
	b += int64(cap(g.s.stamp)+cap(g.s.aux)+cap(g.s.stack)+cap(g.s.list)+cap(g.s.back)+cap(g.s.pool)) * 4
	b += int64(cap(g.s.fIn)+cap(g.s.fOut)+cap(g.s.bIn)+cap(g.s.bOut)) * 4
	g.smu.Unlock()
	return b
}
