package page

import (
	"fmt"
	"slices"
	"unsafe"
)

// Arena geometry. A cell reference (ref) is a uint32: chunk index in the high
// bits, cell index within the chunk in the low cellBits bits. Four bytes per
// page instead of an 8-byte pointer or offset is part of what keeps the
// per-page overhead under budget.
const (
	cellBits         = 12
	cellMask         = 1<<cellBits - 1
	maxCellsPerChunk = 1 << cellBits
	maxChunks        = 1 << (32 - cellBits)

	// chunkBytes is the mapping size for classes whose cells are larger than
	// chunkBytes/maxCellsPerChunk (1 KiB). Smaller classes use
	// maxCellsPerChunk cells per chunk, so tiny pages do not reserve 4 MiB.
	chunkBytes = 4 << 20

	// largePage is the size above which a page gets its own mapping: carving
	// such cells out of shared chunks would waste most of a chunk, and a
	// dedicated mapping can be returned to the OS the moment the page is
	// freed.
	largePage = 1 << 20

	// cellAlign is the size-class granularity. Rounding to 8 bytes (not to
	// powers of two) keeps a 1 KiB page at exactly 1 KiB of arena.
	cellAlign = 8
)

// chunk is one anonymous mapping carved into equal cells.
type chunk struct {
	mem      []byte // nil while the chunk index is unused
	cellSize int
	class    int32 // index into arena.classes; -1 for a large page's own mapping
}

// sizeClass hands out cells of one size.
type sizeClass struct {
	cellSize      int
	cellsPerChunk int
	// free holds references of freed cells. It is kept outside the cells
	// (rather than threaded through their bytes) so that a stray write
	// through a stale Bytes view cannot corrupt the allocator, and freeing
	// never touches page memory. LIFO reuse keeps recently used cells hot.
	free []uint32
	// spare holds chunks mapped ahead by reserveCells, in the order alloc
	// takes them when cur is used up (the order it would have mapped
	// them in, so the layout is the same as without the reservation).
	spare []uint32
	cur   int32 // chunk being carved, -1 when none
	next  int   // next never-used cell of cur
	// pending counts this class's cells claimed by the reservation in
	// progress (reserveCells); zero outside it.
	pending int
}

// room returns how many cells the class hands out before it must map a
// chunk: freed cells, the rest of cur and the spare chunks.
func (c *sizeClass) room() int {
	n := len(c.free) + len(c.spare)*c.cellsPerChunk
	if c.cur >= 0 {
		n += c.cellsPerChunk - c.next
	}
	return n
}

// arena owns every mapping that holds page bytes.
type arena struct {
	chunks     []chunk
	freeChunks []uint32 // unused chunk indices (large pages that were freed)
	classes    []sizeClass
	classOf    map[int]int32 // cell size -> class index
	// lastCell/lastClass cache the most recent class lookup: workloads
	// usually create many pages of one size, and this skips the map.
	lastCell  int
	lastClass int32
	mapped    int64 // bytes mapped for page data
	// spareLarge holds large pages' own chunks mapped ahead by
	// reserveCells, claimed in batch order at its front.
	spareLarge []uint32
	// limit, when positive, is the most bytes mapped for page data: a
	// chunk past it is refused with ErrNoSpace as if the OS had refused
	// the mapping (SetArenaLimit).
	limit int64
	// shm is the shared-mode backing (nil in private mode): chunks are
	// then files in its directory, published in its chunk table.
	shm *shmBacking
	// policy says how new chunks are prepared (huge pages, pre-faulting).
	policy MemoryPolicy
}

// cellSizeFor returns the cell size that holds a page of size bytes.
func cellSizeFor(size int) int {
	if size > largePage {
		return roundUp(size, osPageSize)
	}
	return roundUp(size, cellAlign)
}

// class returns the class index for cell size cs, creating it if needed.
func (a *arena) class(cs int) int32 {
	if cs == a.lastCell && a.classes != nil {
		return a.lastClass
	}
	ci, ok := a.classOf[cs]
	if !ok {
		cells := maxCellsPerChunk
		// Compared by division: on 32-bit, cs*maxCellsPerChunk overflowed
		// for cells of 512 KiB and 1 MiB (2 GiB and 4 GiB chunks: "mmap
		// -2147483648 bytes", "mmap 0 bytes"), so pages of those sizes
		// could not be created (TestCreateEverySize under qemu-arm).
		if cs > chunkBytes/maxCellsPerChunk {
			cells = chunkBytes / cs
		}
		if a.classOf == nil {
			a.classOf = make(map[int]int32)
		}
		ci = int32(len(a.classes))
		a.classes = append(a.classes, sizeClass{cellSize: cs, cellsPerChunk: cells, cur: -1})
		a.classOf[cs] = ci
	}
	a.lastCell, a.lastClass = cs, ci
	return ci
}

// newChunk maps n bytes as a chunk of cellSize cells for class ci and
// returns its index.
func (a *arena) newChunk(n, cellSize int, ci int32) (uint32, error) {
	var idx uint32
	reuse := len(a.freeChunks) > 0
	if reuse {
		idx = a.freeChunks[len(a.freeChunks)-1]
	} else {
		if len(a.chunks) >= maxChunks {
			return 0, fmt.Errorf("%w: all %d chunk references in use", ErrNoSpace, maxChunks)
		}
		idx = uint32(len(a.chunks))
	}
	if a.limit > 0 && a.mapped+int64(roundUp(n, osPageSize)) > a.limit {
		return 0, fmt.Errorf("%w: mapping %d bytes would take page memory past the store's limit of %d bytes (%d mapped)",
			ErrNoSpace, roundUp(n, osPageSize), a.limit, a.mapped)
	}
	var mem []byte
	var err error
	if a.shm != nil {
		mem, err = a.shm.newSharedChunk(idx, roundUp(n, osPageSize), cellSize, !a.policy.Prefault)
	} else {
		mem, err = mapAnonPlain(roundUp(n, osPageSize))
	}
	if err != nil {
		return 0, err
	}
	if err := a.prepareChunk(mem); err != nil {
		_ = unmap(mem)
		if a.shm != nil {
			a.shm.releaseSharedChunk(idx)
		}
		return 0, err
	}
	if reuse {
		a.freeChunks = a.freeChunks[:len(a.freeChunks)-1]
	} else {
		a.chunks = append(a.chunks, chunk{})
	}
	a.chunks[idx] = chunk{mem: mem, cellSize: cellSize, class: ci}
	a.mapped += int64(len(mem))
	return idx, nil
}

// alloc returns a reference to a zero-filled cell for a page of size bytes.
func (a *arena) alloc(size int) (uint32, error) {
	cs := cellSizeFor(size)
	if size > largePage {
		idx, ok := a.takeLarge(cs)
		if !ok {
			var err error
			if idx, err = a.newChunk(cs, cs, -1); err != nil {
				return 0, err
			}
		}
		return idx << cellBits, nil
	}
	ci := a.class(cs)
	c := &a.classes[ci]
	if n := len(c.free); n > 0 {
		ref := c.free[n-1]
		c.free = c.free[:n-1]
		off := int(ref&cellMask) * cs
		// Zero on reuse, not on free: Free stays O(1) and never writes
		// page memory, and a never-reused cell is never cleared at all.
		clear(a.chunks[ref>>cellBits].mem[off : off+cs])
		return ref, nil
	}
	if c.cur < 0 || c.next == c.cellsPerChunk {
		var idx uint32
		if len(c.spare) > 0 {
			idx = c.spare[0]
			c.spare = c.spare[:copy(c.spare, c.spare[1:])]
		} else {
			var err error
			if idx, err = a.newChunk(cs*c.cellsPerChunk, cs, ci); err != nil {
				return 0, err
			}
			c = &a.classes[ci]
		}
		c.cur, c.next = int32(idx), 0
	}
	// Fresh anonymous memory is already zero: no clearing needed.
	ref := uint32(c.cur)<<cellBits | uint32(c.next)
	c.next++
	return ref, nil
}

// release returns the cell ref to its class, or unmaps a large page. It
// touches no other page. On error nothing changed.
func (a *arena) release(ref uint32) error {
	idx := ref >> cellBits
	ch := &a.chunks[idx]
	if ch.class >= 0 {
		c := &a.classes[ch.class]
		c.free = append(c.free, ref)
		return nil
	}
	return a.dropChunk(idx)
}

// dropChunk unmaps chunk idx, which holds no live page, and frees its
// index for reuse. On error nothing changed.
func (a *arena) dropChunk(idx uint32) error {
	ch := &a.chunks[idx]
	n := len(ch.mem)
	if err := unmap(ch.mem); err != nil {
		return err
	}
	if a.shm != nil {
		a.shm.releaseSharedChunk(idx)
	}
	*ch = chunk{}
	a.freeChunks = append(a.freeChunks, idx)
	a.mapped -= int64(n)
	return nil
}

// takeLarge takes the first spare large-page chunk of cs bytes, if any.
func (a *arena) takeLarge(cs int) (uint32, bool) {
	for j, idx := range a.spareLarge {
		if a.chunks[idx].cellSize == cs {
			a.spareLarge = append(a.spareLarge[:j], a.spareLarge[j+1:]...)
			return idx, true
		}
	}
	return 0, false
}

// reserveCells maps ahead every chunk that alloc will need for n pages of
// sizeOf(0..n-1) bytes allocated in that order, so that those allocs
// cannot fail: for each small class, the chunks beyond its room (freed
// cells, the rest of its current chunk, its spares); for each large page,
// a chunk of its own. It maps nothing when the room exists. On error it
// unmaps every spare chunk (none holds a page) and returns the error.
//
// Spare large chunks this batch does not claim are unmapped. Spare small
// chunks left by an earlier reservation whose batch was not created stay
// for later creates of their class (or ReleaseReserved).
func (a *arena) reserveCells(n int, sizeOf func(int) int) error {
	var err error
	claimed := 0 // spareLarge[:claimed] are this batch's, in batch order
	done := 0    // sizes counted in pending
	for ; done < n && err == nil; done++ {
		size := sizeOf(done)
		cs := cellSizeFor(size)
		if size > largePage {
			claimed, err = a.claimLarge(claimed, cs)
			continue
		}
		ci := a.class(cs)
		c := &a.classes[ci]
		c.pending++
		if c.pending <= c.room() {
			continue
		}
		var idx uint32
		if idx, err = a.newChunk(cs*c.cellsPerChunk, cs, ci); err == nil {
			c = &a.classes[ci]
			c.spare = append(c.spare, idx)
		}
	}
	for i := range done {
		if size := sizeOf(i); size <= largePage {
			a.classes[a.class(cellSizeFor(size))].pending = 0
		}
	}
	if err != nil {
		// Give the memory (or tmpfs space) back: the batch is refused,
		// and smaller creates after it must find the room.
		_ = a.releaseSpares(0)
		return err
	}
	// The room is held; an unmap that fails here (it cannot short of a
	// corrupted mapping table) costs address space, not the batch.
	_ = a.dropSpareLarge(claimed)
	return nil
}

// claimLarge makes spareLarge[k] a chunk of cs bytes, moving an unclaimed
// spare of that size there or mapping one, and returns k+1.
func (a *arena) claimLarge(k, cs int) (int, error) {
	for j := k; j < len(a.spareLarge); j++ {
		if a.chunks[a.spareLarge[j]].cellSize == cs {
			a.spareLarge[k], a.spareLarge[j] = a.spareLarge[j], a.spareLarge[k]
			return k + 1, nil
		}
	}
	idx, err := a.newChunk(cs, cs, -1)
	if err != nil {
		return k, err
	}
	a.spareLarge = append(a.spareLarge, idx)
	j := len(a.spareLarge) - 1
	a.spareLarge[k], a.spareLarge[j] = a.spareLarge[j], a.spareLarge[k]
	return k + 1, nil
}

// dropSpareLarge unmaps the spare large chunks from spareLarge[k] on.
func (a *arena) dropSpareLarge(k int) error {
	first := a.dropChunks(a.spareLarge[k:])
	a.spareLarge = a.spareLarge[:k]
	return first
}

// releaseSpares unmaps every spare chunk: the large ones from
// spareLarge[k] on, and all small classes' spares.
func (a *arena) releaseSpares(k int) error {
	idxs := a.spareLarge[k:] // appended to in place: spareLarge ends at k below
	for ci := range a.classes {
		c := &a.classes[ci]
		idxs = append(idxs, c.spare...)
		c.spare = c.spare[:0]
	}
	first := a.dropChunks(idxs)
	a.spareLarge = a.spareLarge[:k]
	return first
}

// dropChunks unmaps the spare chunks idxs (sorting idxs), highest index
// first: freeChunks is reused last in, first out, so later chunks take
// the dropped indices lowest first, which is the order the spares were
// mapped in when they were appended to the table (or took free indices
// below those): the next creates lay pages out as if the spares had
// never been mapped. Dropped in mapping order, they were taken backwards
// after a refused batch (chunk k+1 before chunk k), which cut the flat
// prefix (Stats.DirectPages) of pages created in order
// (TestReserveRefusedKeepsLayout,
// TestCreateAfterRefusedBatchKeepsDirectPages).
func (a *arena) dropChunks(idxs []uint32) error {
	slices.SortFunc(idxs, func(x, y uint32) int { return int(y) - int(x) })
	var first error
	for _, idx := range idxs {
		if err := a.dropChunk(idx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// view returns the first size bytes of cell ref, capped so that appends
// cannot spill into the neighbouring cell.
func (a *arena) view(ref uint32, size int) []byte {
	ch := &a.chunks[ref>>cellBits]
	off := int(ref&cellMask) * ch.cellSize
	return ch.mem[off : off+size : off+size]
}

// releaseAll unmaps every chunk and empties the arena. It returns the first
// unmap error but always finishes.
func (a *arena) releaseAll() error {
	var first error
	for i := range a.chunks {
		if err := unmap(a.chunks[i].mem); err != nil && first == nil {
			first = err
		}
		if a.shm != nil && a.chunks[i].mem != nil {
			a.shm.releaseSharedChunk(uint32(i))
		}
	}
	*a = arena{shm: a.shm, policy: a.policy, limit: a.limit}
	return first
}

// bookkeepingBytes is the Go-heap footprint of the arena's own tables.
func (a *arena) bookkeepingBytes() int64 {
	// The sizes of the element types themselves: constants written by hand
	// went stale as the structs changed (48 and 104 against 40 and 88).
	const chunkSize, classSize = int64(unsafe.Sizeof(chunk{})), int64(unsafe.Sizeof(sizeClass{}))
	n := int64(cap(a.chunks))*chunkSize + int64(cap(a.freeChunks)+cap(a.spareLarge))*4 + int64(cap(a.classes))*classSize
	for i := range a.classes {
		n += int64(cap(a.classes[i].free)+cap(a.classes[i].spare)) * 4
	}
	return n
}
