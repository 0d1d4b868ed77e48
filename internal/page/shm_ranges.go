package page

import (
	"slices"
	"sync"
	"unsafe"
)

// Address ranges that closed readers leave behind, recycled.
//
// A ShmReader never unmaps a mapping a lock-free read may still be in
// (Go makes a load from an unmapped address a fatal fault): Close replaces
// each by zero pages and keeps the range reserved. Kept for the life of
// the process, every OpenReader and Close cycle (the documented answer to
// ErrStale, or a program that opens a Reader per request) and every
// reattach reserved another ~17 MiB (16 MiB of chunk table alone): 10,000
// cycles reserved 170 GB of address space, and a process with a bounded
// address space (ulimit -v, 32-bit) failed its mmaps, the Go runtime's
// included, after a few hundred (TestReaderOpenCloseKeepsAddressSpace).
//
// So a released range goes to this pool, by length, and the next reader
// that maps a file of that length (the same region's header, chunk table,
// slot arrays and chunks, reopened), or failing that of a shorter one
// (takeRange splits a longer range), maps it over the range (MAP_FIXED)
// instead of taking new address space. A late lock-free read of the closed
// reader that meets another file there is as safe as one that meets the
// file a chunk replacement mapped over its old range (see chunk): TryRead
// discards it (the closed reader's fast view is withdrawn, checked last),
// and a fault there (that file truncated) lies inside the closed reader's
// view, so recoverFault catches it, and declines the attempt as its view
// is no longer published (TestTryReadFaultInRangeReusedByAnotherReader).
// A range is in the pool or in exactly one mapping of one reader, never
// both: it is put back only by whoever took it out or mapped it, and only
// once no published view holds it (Close withdraws the view first, chunk
// publishes the new one first; replaced slot arrays wait for Close).
var spareRanges struct {
	mu   sync.Mutex
	free map[int][]unsafe.Pointer // by length, a multiple of osPageSize
	// The same ranges by their first address and by the address just
	// past them (kept as numbers: an end may be the first byte of the Go
	// heap, where a pointer must not point unless to a live object): a
	// range put back is joined with the spare ranges on either side
	// (pushRange).
	at  map[uintptr]spareRange
	end map[uintptr]unsafe.Pointer // to the range's first byte
}

// takeRange returns a spare range of n bytes rounded up to whole pages, or
// nil when the pool holds no range that long.
//
// A range of exactly that length is taken first (the last one released),
// as the same region reopened asks for the lengths it released. Failing
// that, the shortest longer range is split: its first n bytes are
// returned and the rest, zero pages already, stays in the pool under its
// own length, and is joined again with the taken part once that comes
// back (pushRange). Before, only exact lengths were reused, so the pool kept
// every length it was ever given: a process whose readers mapped files
// of ever new lengths (a region's slot arrays and chunk table as the bus
// grows, large pages' chunks of many sizes) reserved new address space
// for each, beside ranges that would have held it, without bound
// (TestSpareRangesServeOtherLengths: 64 lengths, one reservation, where
// it made 64). Now a mapping takes new address space only when no spare
// range is long enough, and pieces of one range that all came back are
// that range again. Spare pieces that are not side by side stay apart,
// so the pool can still hold more than the readers map at once (a long
// mapping beside pieces each too short), as any allocator can; it no
// longer grows with every new length.
func takeRange(n int) []byte {
	n = roundUp(n, osPageSize)
	spareRanges.mu.Lock()
	defer spareRanges.mu.Unlock()
	if l := spareRanges.free[n]; len(l) > 0 {
		return popRange(n)
	}
	// The shortest longer length: a scan of the lengths, each compared, so
	// the choice does not depend on the map's iteration order.
	best := 0
	for length, l := range spareRanges.free {
		if length > n && len(l) > 0 && (best == 0 || length < best) {
			best = length
		}
	}
	if best == 0 {
		return nil
	}
	r := popRange(best)
	pushRange(unsafe.Pointer(&r[n]), best-n)
	return r[:n:n]
}

// popRange removes and returns the last range of length n, which the pool
// holds. Caller holds spareRanges.mu.
func popRange(n int) []byte {
	l := spareRanges.free[n]
	p := l[len(l)-1]
	dropRange(p, n)
	return unsafe.Slice((*byte)(p), n)
}

// dropRange removes the range of n bytes at p, which the pool holds, from
// it. Caller holds spareRanges.mu.
func dropRange(p unsafe.Pointer, n int) {
	l := spareRanges.free[n]
	i := slices.Index(l, p)
	if len(l) == 1 {
		// No empty lists left behind: takeRange scans the lengths.
		delete(spareRanges.free, n)
	} else {
		spareRanges.free[n] = slices.Delete(l, i, i+1)
	}
	delete(spareRanges.at, uintptr(p))
	delete(spareRanges.end, uintptr(p)+uintptr(n))
}

// pushRange adds the range of n bytes at p to the pool, joined with the
// spare ranges that end where it starts and start where it ends: all are
// zero pages nobody maps, and one mapping over several of them (MAP_FIXED)
// replaces them all. Without it a range split for a short mapping stayed
// split, and a long mapping took new address space beside the pieces
// (TestSpareRangesJoinPieces). Caller holds spareRanges.mu.
func pushRange(p unsafe.Pointer, n int) {
	if spareRanges.free == nil {
		spareRanges.free = map[int][]unsafe.Pointer{}
		spareRanges.at = map[uintptr]spareRange{}
		spareRanges.end = map[uintptr]unsafe.Pointer{}
	}
	if before, ok := spareRanges.end[uintptr(p)]; ok {
		bn := spareRanges.at[uintptr(before)].n
		dropRange(before, bn)
		p, n = before, bn+n
	}
	if after, ok := spareRanges.at[uintptr(p)+uintptr(n)]; ok {
		dropRange(after.p, after.n)
		n += after.n
	}
	spareRanges.free[n] = append(spareRanges.free[n], p)
	spareRanges.at[uintptr(p)] = spareRange{p, n}
	spareRanges.end[uintptr(p)+uintptr(n)] = p
}

// spareRange is a range of the pool: n bytes at p.
type spareRange struct {
	p unsafe.Pointer
	n int
}

// releaseRange replaces m's mapping (its whole pages) by zero pages, which
// drops the file it mapped while keeping the addresses readable, and
// keeps the range for takeRange. A range that cannot be zeroed is left as
// it is and never reused.
func releaseRange(m []byte) error {
	if len(m) == 0 {
		return nil
	}
	n := roundUp(len(m), osPageSize)
	full := unsafe.Slice(unsafe.SliceData(m), n)
	if err := zeroMapping(full); err != nil {
		return err
	}
	spareRanges.mu.Lock()
	defer spareRanges.mu.Unlock()
	pushRange(unsafe.Pointer(unsafe.SliceData(full)), n)
	return nil
}
