package graph

import "github.com/mmsb-go/mmsb/internal/base"

// This file holds the graph's compact storage: a page-ID index (open
// addressing over dense node numbers) and a slab arena of adjacency blocks.
// Everything here is pointer-free so that a graph of a million pages costs
// the garbage collector almost nothing to scan.

// Adjacency entries pack the neighbour's node number in the low 30 bits and
// the edge type in the top 2 bits, so one uint32 is one edge end.
const (
	typeShift = 30
	nodeMask  = 1<<typeShift - 1
	// maxNodes bounds the dense node numbers that fit beside the type bits.
	maxNodes = nodeMask
)

func pack(n uint32, t base.EdgeType) uint32 { return n | uint32(t)<<typeShift }
func entNode(e uint32) uint32               { return e & nodeMask }
func entType(e uint32) base.EdgeType        { return base.EdgeType(e >> typeShift) }

// mix64 is the SplitMix64 finaliser: page IDs are often sequential, and the
// index needs their bits spread before masking.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// idIndex maps page IDs to node numbers. Its slots hold node+1 (0 = empty)
// and compare keys through the graph's ids array, so a slot costs 4 bytes
// instead of the ~36 bytes per entry a Go map[uint64]uint32 takes.
// Linear probing with backward-shift deletion keeps it tombstone-free.
type idIndex struct {
	slots []uint32
	count int
}

func (x *idIndex) home(id base.PageID) int {
	return int(mix64(uint64(id)) & uint64(len(x.slots)-1))
}

// find returns the node of id.
func (x *idIndex) find(ids []base.PageID, id base.PageID) (uint32, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := len(x.slots) - 1
	for i := x.home(id); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if ids[s-1] == id {
			return s - 1, true
		}
	}
}

// insert records node n for ids[n], which must be absent.
func (x *idIndex) insert(ids []base.PageID, n uint32) {
	if (x.count+1)*4 > len(x.slots)*3 {
		x.grow(ids)
	}
	x.place(ids[n], n)
	x.count++
}

func (x *idIndex) place(id base.PageID, n uint32) {
	mask := len(x.slots) - 1
	i := x.home(id)
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = n + 1
}

func (x *idIndex) grow(ids []base.PageID) {
	old := x.slots
	size := 16
	if len(old) > 0 {
		size = len(old) * 2
	}
	x.slots = make([]uint32, size)
	for _, s := range old {
		if s != 0 {
			x.place(ids[s-1], s-1)
		}
	}
}

// remove deletes id (which must be present, with ids[n] still set).
func (x *idIndex) remove(ids []base.PageID, id base.PageID) {
	mask := len(x.slots) - 1
	i := x.home(id)
	for ids[x.slots[i]-1] != id {
		i = (i + 1) & mask
	}
	// Backward-shift: pull later members of the probe run into the hole
	// when their home slot does not lie cyclically in (hole, j].
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		h := x.home(ids[x.slots[j]-1])
		if (j-h)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
	x.count--
}

// Arena layout: adjacency blocks live in fixed-size chunks of uint32s.
// A node's block holds its out-entries first, then its in-entries. Block
// capacities come from a small set of size classes (powers of two and 1.5×
// them) with one free list per class, so freed blocks are reused without
// a general-purpose allocator. Blocks too large for a chunk (hub pages) get
// their own slice in arena.big.
const (
	chunkShift = 16
	chunkSize  = 1 << chunkShift
	chunkMask  = chunkSize - 1
	bigClass   = 0xFF
)

// classCap lists the block capacities, ascending. The largest fits a chunk.
var classCap = func() []uint32 {
	c := []uint32{1, 2, 3}
	for p := uint32(4); p <= chunkSize/4; p *= 2 {
		c = append(c, p)
		if p+p/2 <= chunkSize/4 {
			c = append(c, p+p/2)
		}
	}
	return c
}()

// classFor returns the smallest class holding need entries, or bigClass.
func classFor(need uint32) uint8 {
	for i, c := range classCap {
		if c >= need {
			return uint8(i)
		}
	}
	return bigClass
}

type arena struct {
	chunks [][]uint32
	used   uint32     // entries handed out in the last chunk
	free   [][]uint32 // per class: offsets of free blocks
	big    map[uint32][]uint32
	// live counts the capacity of blocks in use, for MemoryBytes.
	live int64
}

// alloc returns the global offset of a new block of class c (not bigClass).
func (a *arena) alloc(c uint8) uint32 {
	capc := classCap[c]
	a.live += int64(capc)
	if a.free == nil {
		a.free = make([][]uint32, len(classCap))
	}
	if fl := a.free[c]; len(fl) > 0 {
		off := fl[len(fl)-1]
		a.free[c] = fl[:len(fl)-1]
		return off
	}
	if len(a.chunks) == 0 || a.used+capc > chunkSize {
		// The tail of the old chunk is abandoned: at most one block's
		// worth per chunk, and blocks are small next to a chunk.
		a.chunks = append(a.chunks, make([]uint32, chunkSize))
		a.used = 0
	}
	off := uint32(len(a.chunks)-1)<<chunkShift | a.used
	a.used += capc
	return off
}

func (a *arena) release(c uint8, off uint32) {
	a.live -= int64(classCap[c])
	a.free[c] = append(a.free[c], off)
}

// block returns the full-capacity block at off of class c.
func (a *arena) block(c uint8, off uint32) []uint32 {
	o := off & chunkMask
	return a.chunks[off>>chunkShift][o : o+classCap[c] : o+classCap[c]]
}
