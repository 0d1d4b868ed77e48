package graph

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/mmsb-go/mmsb/internal/base"
)

// This file maintains a topological order of the nodes under edge inserts
// (Pearce & Kelly, "A dynamic topological sort algorithm for directed
// acyclic graphs", JEA 2006), so that the cycle check of AddEdge costs
// nothing for an edge that already agrees with the order and otherwise only
// the part of the graph between the edge's two ends.
//
// ord[n] is node n's position. While the order is valid every edge p -> c
// has ord[p] < ord[c] and the live nodes have distinct ord values, all in
// [ordLo, ordHi). The values have gaps (removed pages leave theirs behind);
// only their relative order matters. A node created as an edge's parent
// takes ordLo-1 (before everything), one created as a child takes ordHi
// (after everything), so an edge with a new end never needs a reorder.
// Reorders only permute the values already held by the nodes they touch,
// so the range grows by at most one per created node; when a 32-bit end
// is reached the live nodes are renumbered compactly in their current order.
//
// Removing edges never invalidates the order. AddEdgeUnchecked can insert
// an edge against it (that is its purpose: injecting cycles for validator
// negative tests); the order is then marked stale and the next AddEdge
// whose ends both exist rebuilds it with a full Kahn pass. If that pass
// finds a cycle, AddEdge falls back to a plain DFS from the child until an
// edge removal makes a new rebuild worth trying.

// Order states.
const (
	ordValid  uint8 = iota // ord is a topological order of all edges
	ordStale               // an unchecked edge broke it; rebuild on next use
	ordCyclic              // the rebuild found a cycle; retry after a removal
)

// ordMid is where numbering starts (and is re-centred on renumbering), so
// that parents can grow the range downwards and children upwards.
const ordMid uint32 = 1 << 31

// nextOrd returns a fresh ord value before (first) or after all others.
func (g *Graph) nextOrd(first bool) uint32 {
	if g.ordHi == 0 { // zero Graph value: start in the middle
		g.ordLo, g.ordHi = ordMid, ordMid
	}
	if first {
		if g.ordLo == 0 {
			g.renumber()
		}
		g.ordLo--
		return g.ordLo
	}
	if g.ordHi == math.MaxUint32 {
		g.renumber()
	}
	g.ordHi++
	return g.ordHi - 1
}

// renumber gives the live nodes the consecutive values centred on ordMid,
// keeping their relative order (valid or not). It runs only after about
// two billion node creations in one direction, so it may allocate.
func (g *Graph) renumber() {
	g.smu.Lock()
	defer g.smu.Unlock()
	s := g.prepare()
	l := s.list[:0]
	for n, id := range g.ids {
		if id != 0 {
			l = append(l, uint32(n))
		}
	}
	slices.SortFunc(l, func(a, b uint32) int { return cmp.Compare(g.ord[a], g.ord[b]) })
	lo := ordMid - uint32(len(l)/2)
	for i, n := range l {
		g.ord[n] = lo + uint32(i)
	}
	g.ordLo, g.ordHi = lo, lo+uint32(len(l))
	s.list = l
}

// rebuildOrder recomputes ord from scratch with Kahn's algorithm and
// reports whether the edges are acyclic (if not, ord is left unchanged).
func (g *Graph) rebuildOrder() bool {
	g.smu.Lock()
	defer g.smu.Unlock()
	q := g.kahnLocked(g.prepare())
	if len(q) != g.index.count {
		return false
	}
	lo := ordMid - uint32(len(q)/2)
	for i, n := range q {
		g.ord[n] = lo + uint32(i)
	}
	g.ordLo, g.ordHi = lo, lo+uint32(len(q))
	return true
}

// checkInsert decides whether the edge x -> y between existing nodes may be
// added and keeps ord valid for it: it returns the path y -> ... -> x if the
// edge would close a cycle (graph and order unchanged), nil otherwise.
func (g *Graph) checkInsert(x, y uint32) []base.PageID {
	if g.ordState == ordStale {
		if g.rebuildOrder() {
			g.ordState = ordValid
		} else {
			g.ordState = ordCyclic
		}
	}
	if g.ordState != ordValid {
		return g.pathTo(y, x)
	}
	if g.ord[x] < g.ord[y] {
		return nil // already in order: no path y ->* x can exist
	}
	return g.reorder(x, y)
}

// reorder is the Pearce–Kelly step for an edge x -> y with ord[x] > ord[y].
// Only nodes with ord in [ord[y], ord[x]] can lie on a path y ->* x or need
// to move, so the forward search from y stops above ord[x] and the backward
// search from x stops below ord[y]. If x is not reached, the nodes found
// backwards (x and those that must precede it) take the smallest of the
// found ord values and the nodes found forwards (y and those that must
// follow it) the rest, each side keeping its internal order.
func (g *Graph) reorder(x, y uint32) []base.PageID {
	g.smu.Lock()
	defer g.smu.Unlock()
	s := g.prepare()
	gen := s.gen
	lb, ub := g.ord[y], g.ord[x]

	fwd := append(s.list[:0], y)
	st := append(s.stack[:0], y)
	s.stamp[y] = gen
	for len(st) > 0 {
		n := st[len(st)-1]
		st = st[:len(st)-1]
		for _, e := range g.outs(n) {
			m := entNode(e)
			if m == x {
				s.aux[x] = n
				s.list, s.stack = fwd, st
				return g.tracePath(s, y, x)
			}
			if s.stamp[m] == gen || g.ord[m] > ub {
				continue
			}
			s.stamp[m] = gen
			s.aux[m] = n
			fwd = append(fwd, m)
			st = append(st, m)
		}
	}

	// No cycle. Two ways to restore the order remain, and they race one
	// node expansion at a time, so the cost is about twice the cheaper:
	//  - PK: the backward search from x inside the window (ord > ord[y]);
	//    then the backward set and fwd share their old values.
	//  - Move all descendants of y (fwd extended beyond the window) to
	//    fresh values after every other node. This wins when the window
	//    is crowded with ancestors of x but y has few descendants, the
	//    usual case while a graph is being built (y is new-ish, x old).
	// Both searches share one stamp: the backward set holds ancestors of
	// x, the extension descendants of y, and a node in both would lie on
	// a path y ->* x, which the window search just ruled out.
	nWin := len(fwd)
	fst := append(s.pool[:0], fwd...) // extension frontier
	bwd := append(s.back[:0], x)
	st = append(st[:0], x)
	s.stamp[x] = gen
	room := uint64(math.MaxUint32 - g.ordHi)
	for len(st) > 0 {
		n := st[len(st)-1]
		st = st[:len(st)-1]
		for _, e := range g.ins(n) {
			m := entNode(e)
			if s.stamp[m] == gen || g.ord[m] < lb {
				continue
			}
			s.stamp[m] = gen
			bwd = append(bwd, m)
			st = append(st, m)
		}
		if len(fst) == 0 || uint64(len(fwd)) > room {
			continue // extension done (handled below) or no room at the end
		}
		n = fst[len(fst)-1]
		fst = fst[:len(fst)-1]
		for _, e := range g.outs(n) {
			if m := entNode(e); s.stamp[m] != gen {
				s.stamp[m] = gen
				fwd = append(fwd, m)
				fst = append(fst, m)
			}
		}
		if len(fst) == 0 && uint64(len(fwd)) <= room {
			break
		}
	}

	byOrd := func(a, b uint32) int { return cmp.Compare(g.ord[a], g.ord[b]) }
	if len(st) > 0 || (len(fst) == 0 && uint64(len(fwd)) <= room && len(fwd) <= len(bwd)) {
		// The descendants of y are complete: append them, in order.
		slices.SortFunc(fwd, byOrd)
		for _, n := range fwd {
			g.ord[n] = g.ordHi
			g.ordHi++
		}
		s.list, s.back, s.stack, s.pool = fwd, bwd, st[:0], fst
		return nil
	}
	win := fwd[:nWin]
	slices.SortFunc(bwd, byOrd)
	slices.SortFunc(win, byOrd)
	pool := fst[:0]
	for _, n := range bwd {
		pool = append(pool, g.ord[n])
	}
	for _, n := range win {
		pool = append(pool, g.ord[n])
	}
	slices.Sort(pool)
	for i, n := range bwd {
		g.ord[n] = pool[i]
	}
	for i, n := range win {
		g.ord[n] = pool[len(bwd)+i]
	}
	s.list, s.back, s.stack, s.pool = fwd, bwd, st, pool
	return nil
}

// verifyOrder checks the maintained order against the edges: distinct ord
// values within [ordLo, ordHi) for the live nodes and, while the order is
// marked valid, ord[p] < ord[c] for every edge. It is a test and debugging
// aid (it allocates a map); AddEdge never trusts it, nor does CheckAcyclic.
func (g *Graph) verifyOrder() error {
	seen := make(map[uint32]base.PageID, g.index.count)
	for n, id := range g.ids {
		if id == 0 {
			continue
		}
		o := g.ord[n]
		if o < g.ordLo || o >= g.ordHi {
			return fmt.Errorf("graph: page %d ord %d outside [%d, %d)", id, o, g.ordLo, g.ordHi)
		}
		if other, dup := seen[o]; dup {
			return fmt.Errorf("graph: pages %d and %d share ord %d", other, id, o)
		}
		seen[o] = id
		if g.ordState != ordValid {
			continue
		}
		for _, e := range g.outs(uint32(n)) {
			if m := entNode(e); g.ord[m] <= o {
				return fmt.Errorf("graph: edge %d -> %d against order (%d >= %d)", id, g.ids[m], o, g.ord[m])
			}
		}
	}
	return nil
}
