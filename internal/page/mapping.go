package page

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// osPageSize is the granularity of anonymous mappings. Mapping lengths are
// rounded up to it so that every region we hand to the kernel is exactly the
// one it tracks, which is what munmap and mremap expect.
var osPageSize = unix.Getpagesize()

// mapAnon maps n bytes of zero-filled, private, anonymous memory. The kernel
// backs it lazily, so untouched bytes cost address space but no RSS; this is
// what lets the store reserve generously and still be charged only for what
// it writes.
func mapAnon(n int) ([]byte, error) {
	b, err := mapAnonPlain(n)
	if err != nil {
		return nil, err
	}
	if n >= hugeHintBytes {
		// A large first mapping gets transparent huge pages: it is indexed
		// at random. Slot arrays and the ID index start small and grow by
		// mremap, which keeps their 4 KiB pages; advising them huge as they
		// grow measured no gain (1M pages, 20M deltas, checkpoints off:
		// 7.11-7.28M against 6.82-7.37M deltas/s, three interleaved pairs,
		// 2026-12-01), so it is not done. (Chunks of page bytes follow the
		// store's MemoryPolicy instead, see prepareChunk.)
		adviseHugeRaw(b)
	}
	return b, nil
}

// mapAnonPlain maps n bytes of zero-filled, private, anonymous memory with
// no advice.
func mapAnonPlain(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("%w: mmap %d bytes: %w", ErrNoSpace, n, err)
	}
	return b, nil
}

// unmap releases a mapping made by mapAnon or region.grow. A nil slice is a
// no-op so callers can release optional mappings unconditionally.
func unmap(b []byte) error {
	if b == nil {
		return nil
	}
	if err := unix.Munmap(b); err != nil {
		return fmt.Errorf("page: munmap %d bytes: %w", len(b), err)
	}
	return nil
}

// hugeHintBytes is the mapping size from which transparent huge pages are
// requested.
const hugeHintBytes = 4 << 20

// roundUp rounds n up to a multiple of m (a power of two).
func roundUp(n, m int) int { return (n + m - 1) &^ (m - 1) }

// region is a growable anonymous mapping that backs one flat metadata array.
//
// Growing a Go slice with append copies the old array and leaves it for the
// GC; at a million pages those dead copies add tens of MiB of RSS until the
// scavenger returns them. A region instead grows in place or is moved by the
// kernel (mremap on Linux), which transfers the physical pages without a copy
// and leaves nothing behind, so resident memory is exactly the bytes written.
type region struct {
	mem []byte
	// shmDir, name and perm are set for a region backed by a shared file
	// (shared mode, shm.go); shmDir is "" for an anonymous mapping.
	shmDir, name string
	perm         os.FileMode
}

// grow makes the region at least n bytes long. On failure the region is
// unchanged. Views taken with u64s/i32s (or unsafe.Slice) must be re-taken afterwards
// because the mapping may move.
func (r *region) grow(n int) error {
	n = roundUp(n, osPageSize)
	if n <= len(r.mem) {
		return nil
	}
	if r.shmDir != "" {
		return r.growShared(n)
	}
	return r.mapTo(n, func() ([]byte, error) { return mapAnon(n) })
}

// mapTo makes the region n bytes long: mapFirst maps it when nothing is
// mapped yet (anonymous or shared), later growth remaps the same mapping.
func (r *region) mapTo(n int, mapFirst func() ([]byte, error)) error {
	var b []byte
	var err error
	if r.mem == nil {
		b, err = mapFirst()
	} else {
		b, err = remap(r.mem, n)
	}
	if err != nil {
		return err
	}
	r.mem = b
	return nil
}

// release unmaps the region and leaves it empty (reusable). A shared
// region's file is removed too, so that a regrown region starts afresh.
func (r *region) release() error {
	err := unmap(r.mem)
	if r.shmDir != "" && r.mem != nil {
		if e := os.Remove(r.shmDir + "/" + r.name); e != nil && err == nil {
			err = e
		}
	}
	r.mem = nil
	return err
}

// u64s views b as []uint64. b comes from mmap, so it is page aligned and
// outside the Go heap: the GC never scans or moves it.
func u64s(b []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
}

// i32s views b as []int32 (see u64s).
func i32s(b []byte) []int32 {
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

// zeroMapping replaces mapping b in place by anonymous read-only zero pages
// (MAP_FIXED over the same range): the file behind b is released, and the
// range stays readable for a lock-free reader that may still be inside it
// (ShmReader.Close). The range itself is never returned to the system.
func zeroMapping(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := unix.MmapPtr(-1, 0, unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)),
		unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED)
	if err != nil {
		return fmt.Errorf("page: replace a %d-byte mapping by zero pages: %w", len(b), err)
	}
	return nil
}
