package graph

import "fmt"

// A hub is a node with many edge ends (a page thousands of pages derive
// from, or one that derives from thousands). Finding one of its edges by
// scanning its block costs its degree, so removing its edges one at a
// time (RemoveEdge per child, Unbind of a page with 100,000 parents,
// RemovePage of each of a hub's children) took time quadratic in the
// degree: 50,000 removals from one hub took ~0.2-0.5 s, a million would
// take minutes. Nodes with at least hubMin edge ends therefore keep a
// position index: an open-addressing table, like the page-ID index, whose
// slots hold a position in the node's block plus one, the key (the entry
// and its side, out or in) being read from the block itself. That is 4
// bytes a slot, 5 to 11 bytes an edge end, for hubs only (a Go map took
// ~24 and pushed TestMemory1M, whose last page has half a million
// parents, over its budget). The table is only probed, never iterated in
// an order that reaches a result. It is dropped once the node falls below
// hubMin/4 ends (the gap keeps a node near the bound from rebuilding it
// on every insert and removal).
//
// Every move of an entry inside an indexed block updates its slot: the
// slot is found while the block still holds the entry where the table
// says, and rewritten once the block changed. An entry keeps its side
// when it moves, so its home slot does not change.

// hubMin is the number of edge ends from which a node is indexed: below
// it a scan reads at most a few KiB of one block. A variable only so that
// the property tests can index small graphs' nodes too.
var hubMin uint32 = 512

// hubTable is one hub's position index; len(slots) is a power of two.
type hubTable struct {
	slots []uint32 // position+1 in the node's block; 0 = empty
	count int
}

// hub returns n's index, nil if n has none.
func (g *Graph) hub(n uint32) *hubTable {
	if len(g.hubs) == 0 { // the common case: no map lookup
		return nil
	}
	return g.hubs[n]
}

// hubHome is the home slot of entry e on the given side (in: in-entry).
func hubHome(h *hubTable, e uint32, in bool) int {
	k := uint64(e)
	if in {
		k |= 1 << 32
	}
	return int(mix64(k) & uint64(len(h.slots)-1))
}

// hubKey returns the entry at position pos of n's block and its side.
func (g *Graph) hubKey(n uint32, b []uint32, pos uint32) (uint32, bool) {
	return b[pos], pos >= g.nOut[n]
}

// hubSlot returns the slot holding entry e of the given side, or -1.
func (g *Graph) hubSlot(n uint32, h *hubTable, e uint32, in bool) int {
	b := g.adj(n)
	mask := len(h.slots) - 1
	for i := hubHome(h, e, in); ; i = (i + 1) & mask {
		s := h.slots[i]
		if s == 0 {
			return -1
		}
		if k, side := g.hubKey(n, b, s-1); k == e && side == in {
			return i
		}
	}
}

// hubInsert indexes the entry at position pos, which must not be indexed.
func (g *Graph) hubInsert(n uint32, h *hubTable, pos uint32) {
	if (h.count+1)*4 > len(h.slots)*3 {
		g.hubGrow(n, h, 2*len(h.slots))
	}
	g.hubPlace(n, h, pos)
	h.count++
}

func (g *Graph) hubPlace(n uint32, h *hubTable, pos uint32) {
	e, in := g.hubKey(n, g.adj(n), pos)
	mask := len(h.slots) - 1
	i := hubHome(h, e, in)
	for h.slots[i] != 0 {
		i = (i + 1) & mask
	}
	h.slots[i] = pos + 1
}

// hubGrow rebuilds the table with size slots from the block.
func (g *Graph) hubGrow(n uint32, h *hubTable, size int) {
	old := h.slots
	h.slots = make([]uint32, size)
	for _, s := range old {
		if s != 0 {
			g.hubPlace(n, h, s-1)
		}
	}
}

// hubRemove forgets entry e of the given side, which must be indexed,
// with backward-shift deletion (no tombstones).
func (g *Graph) hubRemove(n uint32, h *hubTable, e uint32, in bool) {
	i := g.hubSlot(n, h, e, in)
	if i < 0 {
		panic("graph: hub index lost an entry")
	}
	b := g.adj(n)
	mask := len(h.slots) - 1
	for j := (i + 1) & mask; h.slots[j] != 0; j = (j + 1) & mask {
		k, side := g.hubKey(n, b, h.slots[j]-1)
		home := hubHome(h, k, side)
		if (j-home)&mask >= (j-i)&mask {
			h.slots[i] = h.slots[j]
			i = j
		}
	}
	h.slots[i] = 0
	h.count--
}

// indexIfHub builds n's index once n has hubMin edge ends.
func (g *Graph) indexIfHub(n uint32) {
	used := g.nOut[n] + g.nIn[n]
	if used < hubMin || g.hub(n) != nil {
		return
	}
	if g.hubs == nil {
		g.hubs = make(map[uint32]*hubTable)
	}
	size := 16
	for size*3 < int(used)*4*2 { // load at most 3/8 to start
		size *= 2
	}
	h := &hubTable{slots: make([]uint32, size)}
	for pos := uint32(0); pos < used; pos++ {
		g.hubPlace(n, h, pos)
	}
	h.count = int(used)
	g.hubs[n] = h
}

// unindexIfSmall drops n's index once n has fewer than hubMin/4 edge ends,
// and rebuilds it smaller once it is less than an eighth full (at most
// 3/8 full afterwards): the table only grew, so a hub that had a million
// edge ends and kept a thousand kept a table sized for the million, 8 MB
// (TestHubShrinksAfterRemovals). Shrinking at an eighth, to at least
// twice that load, costs one rebuild per halving of the count.
func (g *Graph) unindexIfSmall(n uint32) {
	h := g.hub(n)
	if h == nil {
		return
	}
	if g.nOut[n]+g.nIn[n] < hubMin/4 {
		delete(g.hubs, n)
		return
	}
	if len(h.slots) > 16 && h.count*8 < len(h.slots) {
		size := 16
		for size*3 < h.count*8 {
			size *= 2
		}
		g.hubGrow(n, h, size)
	}
}

// findOut returns the position of out-entry e in n's block, or -1.
func (g *Graph) findOut(n, e uint32) int {
	if h := g.hub(n); h != nil {
		if i := g.hubSlot(n, h, e, false); i >= 0 {
			return int(h.slots[i] - 1)
		}
		return -1
	}
	return findEntry(g.outs(n), e)
}

// findIn returns the position of in-entry e in n's block (counted from
// the block's start, past the out-entries), or -1.
func (g *Graph) findIn(n, e uint32) int {
	if h := g.hub(n); h != nil {
		if i := g.hubSlot(n, h, e, true); i >= 0 {
			return int(h.slots[i] - 1)
		}
		return -1
	}
	if k := findEntry(g.ins(n), e); k >= 0 {
		return int(g.nOut[n]) + k
	}
	return -1
}

// checkHubIndex verifies every hub index against the blocks, and that
// exactly the nodes that must have one have one (a test aid).
func (g *Graph) checkHubIndex() error {
	for n, id := range g.ids {
		h := g.hub(uint32(n))
		if id == 0 {
			if h != nil {
				return fmt.Errorf("graph: free node %d has a hub index", n)
			}
			continue
		}
		used := g.nOut[n] + g.nIn[n]
		switch {
		case used >= hubMin && h == nil:
			return fmt.Errorf("graph: page %d has %d edge ends and no hub index", id, used)
		case used < hubMin/4 && h != nil:
			return fmt.Errorf("graph: page %d has %d edge ends and a hub index", id, used)
		case h == nil:
			continue
		}
		held := 0
		for _, s := range h.slots {
			if s == 0 {
				continue
			}
			if s-1 >= used {
				return fmt.Errorf("graph: page %d: hub slot holds position %d of %d", id, s-1, used)
			}
			held++
		}
		if held != h.count || held != int(used) {
			return fmt.Errorf("graph: page %d: hub index holds %d entries (count %d) for %d edge ends", id, held, h.count, used)
		}
		b := g.adj(uint32(n))
		for pos := uint32(0); pos < used; pos++ {
			e, in := g.hubKey(uint32(n), b, pos)
			i := g.hubSlot(uint32(n), h, e, in)
			if i < 0 || h.slots[i]-1 != pos {
				return fmt.Errorf("graph: page %d: entry at %d not found at its position (slot %d)", id, pos, i)
			}
		}
	}
	return nil
}
