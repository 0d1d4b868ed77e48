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
	s := g.prepare()
	q := g.kahnLocked(s)
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
	// Two of reorder's repairs move up to every live node to fresh values
	// before ordLo or after ordHi. With less room than that at an end,
	// renumber first: otherwise those repairs stay ruled out (reorder
	// falls back to PK, which can cost the whole graph per edge) until a
	// creation happens to hit the end (TestOrderRenumbersForMoves). The
	// range holds ~2^32 values, so this runs once per ~2^31 moved nodes.
	if n := uint64(g.index.count); uint64(g.ordLo) < n || uint64(math.MaxUint32-g.ordHi) < n {
		g.renumber()
	}
	return g.reorder(x, y)
}

// backwardTurnEdges is the least number of in-edges reorder's backward
// search may look at in one turn (more when the forward search just looked
// at more out-edges). Some slack lets the backward search keep up on
// graphs whose nodes have a few children each; a bound keeps one node with
// many parents from costing more than the forward search that finds a
// cycle (TestRefusedEdgeReadsFewParents).
const backwardTurnEdges = 32

// scratchKeep is the largest capacity (in entries, 4 bytes each) a repair
// search slice keeps for the next repair. One repair that visits a million
// nodes grew each of its seven slices to a million entries, ~28 MB held by
// the graph for its life (TestRepairScratchBounded). Up to the bound the
// slices are reused, so the common repair allocates nothing (the repairs of
// BenchmarkAddEdge, 100,000 pages, visit up to ~50,000 nodes); above it a
// repair allocates afresh, which costs far less than visiting that many
// nodes.
const scratchKeep = 1 << 17

// shed drops the search slices that grew past scratchKeep: the repair's,
// and list and stack. A repair and the cycle path search of a refused
// edge call it: they are local searches, and one that visits a million
// nodes is the exception. The whole-graph traversals (AppendDescendants
// of a wave, TopoOrder, CheckAcyclic, the order's rebuild and
// renumbering) do not: they visit about as many nodes every time, their
// list and stack are bounded by the graph's size as the per-node stamp
// and aux are, and dropping them after each one made every wave over more
// than scratchKeep pages allocate and fault in its ~8 MB afresh (tried on
// 2026-12-07: #3's acyclicity check of 1M pages went from 67 to 80 ms;
// TestTraversalScratchKeptForTheGraph). Caller holds smu.
func (s *scratch) shed() {
	for _, b := range [...]*[]uint32{&s.list, &s.stack, &s.back, &s.pool, &s.fIn, &s.fOut, &s.bIn, &s.bOut} {
		if cap(*b) > scratchKeep {
			*b = nil
		}
	}
}

// reorder is the Pearce–Kelly step for an edge x -> y with ord[x] > ord[y].
// Only nodes with ord in [ord[y], ord[x]] can lie on a path y ->* x or need
// to move (the window): the descendants of y inside it (F) and the
// ancestors of x inside it (B). If there is no such path, the edge is
// accepted with whichever of three repairs is found first, the searches
// advancing one node expansion each in turn, so that the cost is about
// twice the cheapest:
//   - PK: once F and B are both complete, B and F share their old
//     values, B first, each keeping its internal order.
//   - All descendants of y (D, F extended beyond the window) move to fresh
//     values after every other node. This wins while a graph is being
//     built with new-ish children under old parents whose window is
//     crowded with ancestors of x.
//   - All ancestors of x (A, B extended below the window) move to fresh
//     values before every other node: the mirror image, which wins when y
//     has many descendants inside the window and x few ancestors, as when
//     a chain is linked up from its end (TestOrderLinearOnLargeGraphs:
//     with only the first two, every link searched the whole chain built
//     so far, quadratic time).
//
// Each search expands the nodes inside the window first, so F (B) is
// complete as soon as no node inside the window is left to expand: the
// descendants of a node after the window are all after it, the ancestors
// of one before it all before it. A node found by both searches lies on a
// path y ->* x, as does x found forwards or y backwards: the edge would
// close a cycle, and the forward search, finished inside the window,
// names it.
func (g *Graph) reorder(x, y uint32) []base.PageID {
	g.smu.Lock()
	defer g.smu.Unlock()
	s := g.prepare()
	gf := s.gen       // stamp of the forward search (descendants of y)
	gb := s.nextGen() // stamp of the backward search (ancestors of x)
	if gb < gf {
		// The counter wrapped between the two and cleared the stamps:
		// gf = MaxUint32 written now would outlive that clear and read as
		// a mark of some search 2^32 generations later
		// (TestReorderStampsSurviveGenWrap). Take both after the clear.
		gf, gb = gb, s.nextGen()
	}
	lb, ub := g.ord[y], g.ord[x]
	roomHi := uint64(math.MaxUint32 - g.ordHi) // fresh values after ordHi
	roomLo := uint64(g.ordLo)                  // fresh values before ordLo

	fwd := append(s.list[:0], y) // descendants of y found, y first
	bwd := append(s.back[:0], x) // ancestors of x found, x first
	nF, nB := 1, 1               // how many of them lie in the window
	fIn := append(s.fIn[:0], y)  // to expand, inside the window
	fOut := s.fOut[:0]           // to expand, after it
	bIn := append(s.bIn[:0], x)  // to expand, inside the window
	bOut := s.bOut[:0]           // to expand, before it
	s.stamp[y], s.stamp[x] = gf, gb
	save := func() {
		s.list, s.back, s.fIn, s.fOut, s.bIn, s.bOut = fwd, bwd, fIn[:0], fOut[:0], bIn[:0], bOut[:0]
		s.shed()
	}
	cycle := false
	// The backward search expands its node a part at a time (bCur from
	// its in-edge bPos on): per turn at most as many in-edges as the
	// forward search just looked at, or backwardTurnEdges. A whole node
	// per turn let one node with many parents cost more than the forward
	// search that finds a cycle: a refused edge into a node with ~50,000
	// parents read all of them first (BenchmarkAddEdgeRefused on the
	// 2-core machine: 3.3 µs with the forward search alone, 200 µs with
	// whole nodes, 8.7 µs in parts).
	var bCur uint32
	bPos, bHave, bCurIn := 0, false, false
	for {
		fe := -1 // in-edges the backward search may look at this turn (-1: all)
		// One forward expansion: inside the window first; after it only
		// while moving D is still possible, and not once a cycle is known
		// (then only the window search goes on, to reach x).
		n, ok := uint32(0), false
		switch {
		case len(fIn) > 0:
			n, fIn, ok = fIn[len(fIn)-1], fIn[:len(fIn)-1], true
		case cycle:
			// Unreachable: with a path y ->* x, the window search
			// reaches x before it runs out of nodes.
			panic("graph: cycle found but not its path")
		case len(fOut) > 0 && uint64(len(fwd)) <= roomHi:
			n, fOut, ok = fOut[len(fOut)-1], fOut[:len(fOut)-1], true
		}
		if ok {
			fe = max(len(g.outs(n)), backwardTurnEdges)
			for _, e := range g.outs(n) {
				m := entNode(e)
				if m == x {
					s.aux[x] = n
					save()
					return g.tracePath(s, y, x)
				}
				switch s.stamp[m] {
				case gf:
					continue
				case gb:
					cycle = true // an ancestor of x: the window search will reach x
				}
				s.stamp[m] = gf
				s.aux[m] = n
				fwd = append(fwd, m)
				if g.ord[m] <= ub {
					nF++
					fIn = append(fIn, m)
				} else if !cycle {
					fOut = append(fOut, m)
				}
			}
		}
		if cycle {
			continue
		}
		// One backward turn, inside the window first.
		if !bHave {
			switch {
			case len(bIn) > 0:
				bCur, bIn, bHave, bCurIn = bIn[len(bIn)-1], bIn[:len(bIn)-1], true, true
			case len(bOut) > 0 && uint64(len(bwd)) <= roomLo:
				bCur, bOut, bHave, bCurIn = bOut[len(bOut)-1], bOut[:len(bOut)-1], true, false
			}
			bPos = 0
		}
		if bHave {
			ins := g.ins(bCur)
			end := len(ins)
			if fe >= 0 && end-bPos > fe {
				end = bPos + fe
			}
			part := ins[bPos:end]
			s.backEdges += uint64(len(part))
			bPos = end
			if bPos == len(ins) {
				bHave = false
			}
			for _, e := range part {
				m := entNode(e)
				if s.stamp[m] == gb {
					continue
				}
				if s.stamp[m] == gf { // y, or a descendant of y: a cycle
					cycle = true
					break
				}
				s.stamp[m] = gb
				bwd = append(bwd, m)
				if g.ord[m] >= lb {
					nB++
					bIn = append(bIn, m)
				} else {
					bOut = append(bOut, m)
				}
			}
		}
		if cycle {
			continue
		}
		fDone, bDone := len(fIn) == 0, len(bIn) == 0 && (!bHave || !bCurIn)
		dDone := fDone && len(fOut) == 0 && uint64(len(fwd)) <= roomHi
		aDone := bDone && !bHave && len(bOut) == 0 && uint64(len(bwd)) <= roomLo
		byOrd := func(a, b uint32) int { return cmp.Compare(g.ord[a], g.ord[b]) }
		switch {
		case dDone && (!bDone || len(fwd) <= nB):
			// D complete: append it, in order.
			slices.SortFunc(fwd, byOrd)
			for _, n := range fwd {
				g.ord[n] = g.ordHi
				g.ordHi++
			}
		case fDone && bDone:
			// PK over the window sets (the searches may have gone past
			// the window: leave those nodes out).
			win := fIn[:0]
			for _, n := range fwd {
				if g.ord[n] <= ub {
					win = append(win, n)
				}
			}
			back := bIn[:0]
			for _, n := range bwd {
				if g.ord[n] >= lb {
					back = append(back, n)
				}
			}
			slices.SortFunc(back, byOrd)
			slices.SortFunc(win, byOrd)
			pool := s.pool[:0]
			for _, n := range back {
				pool = append(pool, g.ord[n])
			}
			for _, n := range win {
				pool = append(pool, g.ord[n])
			}
			slices.Sort(pool)
			for i, n := range back {
				g.ord[n] = pool[i]
			}
			for i, n := range win {
				g.ord[n] = pool[len(back)+i]
			}
			s.pool = pool
			fIn, bIn = win, back // keep the grown capacity
		case aDone:
			// A complete: prepend it, in order.
			slices.SortFunc(bwd, byOrd)
			g.ordLo -= uint32(len(bwd))
			for i, n := range bwd {
				g.ord[n] = g.ordLo + uint32(i)
			}
		default:
			continue
		}
		save()
		return nil
	}
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
