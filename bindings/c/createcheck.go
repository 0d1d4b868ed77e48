package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// maxCreatePages bounds the pages of one mmsb_create_pages(_meta): 2^24,
// and 2^20 where int has 32 bits. The library builds one mmsb.PageSpec and
// one ID per page before the bus checks the batch (56 bytes a page on 64
// bits, 2^24 pages 896 MiB; 36 bytes on 32 bits, where 2^24 pages were
// 576 MiB of the address space, a fatal out-of-memory of the Go runtime,
// not a status). 2^20 pages on 32 bits are 36 MiB of specs and IDs, and
// the bus would need 32 MiB of slots for them besides.
const maxCreatePages = min(1<<24, math.MaxInt>>11+1)

// createSpec is what checkCreateArgs reads of one page of a creation: its
// size, and its ID (0: the bus assigns one).
type createSpec func(i int) (id uint64, size uint32)

// checkCreateArgs checks a creation of n pages, each with metaBytes bytes
// of encoded metadata, from the caller's arrays alone, before the library
// allocates anything in proportion to n: every size must be a page size,
// and the batch's record, measured from below as CreatePages measures it
// (an assigned ID takes at least one byte), must fit in one log record.
// A batch of sizes 0 or 2^24 large ones was otherwise refused by the bus
// only after the library had built its 2^24 specs. It never reads past
// page n-1 and allocates nothing.
func checkCreateArgs(n int, spec createSpec, metaBytes uint64) error {
	rec := uint64(minRecordHeader)
	for i := range n {
		id, size := spec(i)
		if size == 0 || size > mmsb.MaxPageSize {
			return fmt.Errorf("%w: sizes[%d] is %d, want 1..%d (a page size); nothing was created",
				mmsb.ErrInvalidPage, i, size, mmsb.MaxPageSize)
		}
		rec += createOpMinBytes(id, size, metaBytes)
		if rec > tlog.MaxRecordBytes {
			return fmt.Errorf("%w: %d pages make a record of more than %d bytes by page %d, a log record holds at most %d; nothing was created: create fewer pages per call",
				mmsb.ErrRecordTooLarge, n, rec, i, tlog.MaxRecordBytes)
		}
	}
	return nil
}

// minRecordHeader is the smallest record header (record.AppendHeader: the
// format version and a one-byte time varint; the bus's minHeaderBytes).
const minRecordHeader = 2

// createOpMinBytes is the length of the creation of page id (0: the bus
// assigns one, whose varint takes at least one byte) of the given size
// with metaBytes bytes of encoded metadata in a record: the operation's
// tag, ID, size, location, then the metadata's length and bytes. For an
// ID given it is exactly record.AppendCreate's length.
func createOpMinBytes(id uint64, size uint32, metaBytes uint64) uint64 {
	return 1 + uint64(uvarintLen(max(id, 1))) + uint64(uvarintLen(uint64(size))) + 1 +
		uint64(uvarintLen(metaBytes)) + metaBytes
}

// uvarintLen is the length of v's unsigned varint encoding.
func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// spanFits reports whether n elements of size bytes starting at address p
// end within the address space: the condition under which unsafe.Slice
// makes a slice of them instead of panicking. A caller's pointer near the
// top of the address space with a count that wraps past its end names no
// array (MMSB_ERR_INVALID_ARGUMENT); it was a recovered panic,
// MMSB_ERR_INTERNAL "please report".
func spanFits(p uintptr, n uint64, size uintptr) bool {
	if n > math.MaxInt {
		return false
	}
	hi, mem := bits.Mul64(n, uint64(size))
	return hi == 0 && mem <= uint64(-p) // -p: the bytes from p to the end
}
