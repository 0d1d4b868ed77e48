package page

import (
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
// slot arrays and chunks, reopened) maps it over the range (MAP_FIXED)
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
}

// takeRange returns a spare range of n bytes rounded up to whole pages, or
// nil when the pool holds none of that length.
func takeRange(n int) []byte {
	n = roundUp(n, osPageSize)
	spareRanges.mu.Lock()
	defer spareRanges.mu.Unlock()
	l := spareRanges.free[n]
	if len(l) == 0 {
		return nil
	}
	p := l[len(l)-1]
	spareRanges.free[n] = l[:len(l)-1]
	return unsafe.Slice((*byte)(p), n)
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
	if spareRanges.free == nil {
		spareRanges.free = map[int][]unsafe.Pointer{}
	}
	spareRanges.free[n] = append(spareRanges.free[n], unsafe.Pointer(unsafe.SliceData(full)))
	return nil
}
