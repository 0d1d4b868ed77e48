package main

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestCCreateBound runs test/create_bound_test.c, plain and under ASan +
// UBSan: a creation of 2^24 pages that the bus must refuse (the last size
// 0; 2^24 pages whose record passes 256 MiB) is refused with the status
// and a message naming the page before the library builds its 2^24 page
// specs, and the process's peak resident memory grows by less than 256 MiB
// (the specs alone are 768 MiB); nothing is created and the bus goes on.
// Control (the specs built before the check): "a refused creation of 2^24
// pages (a size of 0) grew the peak resident memory by 897 MiB, want under
// 256 MiB", and the message was the bus's "page 16777216 size 0". Skipped on 32-bit platforms, whose bound is 2^20 pages
// (TestCreatePagesBound).
func TestCCreateBound(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("2^24 pages are over a 32-bit platform's bound of 2^20 (TestCreatePagesBound covers it)")
	}
	lookPath(t, "gcc")
	runBuilds(t, "gcc", filepath.Join("test", "create_bound_test.c"), buildLibrary(t), []string{"-std=gnu11"}, nil)
}

// TestCreatePagesBound: the specs and IDs the library builds for the
// largest creation it accepts stay within a sixteenth of the address
// space (2^24 pages on 64 bits; 2^20 on 32, where 2^24 were 448 MiB of
// specs, a fatal out-of-memory), and on 64 bits the bound is still 2^24.
// Control (GOARCH=386 with the bound 2^24): "16777216 pages take 603979776
// bytes of specs and IDs, over 268435455 (a sixteenth of the address
// space)".
func TestCreatePagesBound(t *testing.T) {
	perPage := uint64(unsafe.Sizeof(mmsb.PageSpec{})) + 8
	if got, limit := uint64(maxCreatePages)*perPage, uint64(math.MaxUint)/16; got > limit {
		t.Errorf("%d pages take %d bytes of specs and IDs, over %d (a sixteenth of the address space)", maxCreatePages, got, limit)
	}
	if strconv.IntSize == 64 && maxCreatePages != 1<<24 {
		t.Errorf("maxCreatePages is %d on 64 bits, want 2^24 (documented)", maxCreatePages)
	}
}

// TestCheckCreateArgs: the checks made from the caller's arrays before
// anything is allocated refuse a size of 0 or over 16 MiB (ErrInvalidPage,
// naming the index) and a record over 256 MiB measured from below
// (ErrRecordTooLarge); they accept what the bus may accept, reading no
// page past n-1.
func TestCheckCreateArgs(t *testing.T) {
	sizes := func(n int, size uint32, id uint64) createSpec {
		return func(i int) (uint64, uint32) {
			if i >= n {
				t.Fatalf("page %d read, past the %d given", i, n)
			}
			return id, size
		}
	}
	for _, tc := range []struct {
		name      string
		n         int
		spec      createSpec
		metaBytes uint64
		want      error
		msg       string
	}{
		{"one page", 1, sizes(1, 8, 0), 0, nil, ""},
		{"size 0", 3, func(i int) (uint64, uint32) { return 0, uint32(2 - i) }, 0, mmsb.ErrInvalidPage, "sizes[2] is 0, want 1..16777216"},
		{"size over 16 MiB", 1, sizes(1, mmsb.MaxPageSize+1, 0), 0, mmsb.ErrInvalidPage, "sizes[0] is 16777217"},
		{"largest page", 1, sizes(1, mmsb.MaxPageSize, math.MaxUint64), 0, nil, ""},
		// 4096 pages of 64 KiB metadata pass 256 MiB (each op's own bytes
		// on top); 4000 do not.
		{"metadata over a record", 4096, sizes(4096, 8, 0), 65536, mmsb.ErrRecordTooLarge, "a log record holds at most 268435456"},
		{"metadata within a record", 4000, sizes(4000, 8, 0), 65536, nil, ""},
	} {
		err := checkCreateArgs(tc.n, tc.spec, tc.metaBytes)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: message %q does not contain %q", tc.name, err, tc.msg)
		}
	}
}

// TestSpanFits: spanFits accepts exactly the arrays unsafe.Slice makes a
// slice of (it panics on the others, which the exports refuse first with
// MMSB_ERR_INVALID_ARGUMENT: TestCABI's arrays at the top of the address
// space).
func TestSpanFits(t *testing.T) {
	top := ^uintptr(0) - 7 // 8 bytes to the end
	for _, tc := range []struct {
		p    uintptr
		n    uint64
		size uintptr
		want bool
	}{
		{top, 1, 8, true},
		{top, 8, 1, true},
		{top, 2, 8, false},
		{top, 9, 1, false},
		{4096, 0, 8, true},
		{4096, math.MaxUint64, 1, false},
		{4096, math.MaxUint64/8 + 1, 8, false}, // the product wraps 64 bits
		{4096, 1 << 20, 8, true},
	} {
		if got := spanFits(tc.p, tc.n, tc.size); got != tc.want {
			t.Errorf("spanFits(%#x, %d, %d) = %v, want %v", tc.p, tc.n, tc.size, got, tc.want)
		}
	}
}

// TestCreateOpMinBytesIsTheRecordsLength: what checkCreateArgs counts per
// page is exactly the length of the page's creation in the record
// (record.AppendCreate) for an ID given, of every varint width, with
// sizes and metadata lengths at their varint widths' edges; for an ID the
// bus assigns it is the length with the smallest ID, 1, and so at most
// the length with any; and its header is the smallest record.AppendHeader
// writes. A count above the record's length would refuse a creation the
// bus accepts.
func TestCreateOpMinBytesIsTheRecordsLength(t *testing.T) {
	ids := []uint64{0, math.MaxUint64}
	for w := 1; w <= 9; w++ { // the smallest and largest ID of each varint width
		ids = append(ids, 1<<(7*(w-1)), 1<<(7*w)-1)
	}
	ids = append(ids, 1<<63)
	sizes := []uint32{1, 127, 128, 1<<14 - 1, 1 << 14, 1<<21 - 1, 1 << 21, mmsb.MaxPageSize}
	var metas [][]byte
	for _, n := range []int{0, 13, 127, 128, 1<<14 - 1, 1 << 14, maxMetaBytes} {
		var m []byte
		if n > 0 { // one entry, key "k": 4 + 4 + 1 + 4 bytes, then the value
			m = page.AppendMeta(nil, []page.MetaEntry{{Key: "k", Value: make([]byte, n-13)}})
		}
		if len(m) != n {
			t.Fatalf("metadata of %d bytes encoded in %d", n, len(m))
		}
		metas = append(metas, m)
	}
	for _, id := range ids {
		for _, size := range sizes {
			for _, m := range metas {
				got := createOpMinBytes(id, size, uint64(len(m)))
				want := len(record.AppendCreate(nil, base.PageID(max(id, 1)), size, base.LocationCPU, m))
				if got != uint64(want) {
					t.Errorf("page %d of %d bytes with %d bytes of metadata: counted %d bytes, the record holds %d",
						id, size, len(m), got, want)
				}
			}
		}
	}
	if smallest := len(record.AppendHeader(nil, 0)); minRecordHeader != smallest {
		t.Errorf("minRecordHeader is %d, the smallest header %d bytes", minRecordHeader, smallest)
	}
	for _, at := range []int64{1, time.Now().UnixNano(), math.MaxInt64, -1} {
		if n := len(record.AppendHeader(nil, at)); n < minRecordHeader {
			t.Errorf("a header at %d is %d bytes, under minRecordHeader %d", at, n, minRecordHeader)
		}
	}
}

// TestCheckCreateArgsAtTheBounds: a creation whose record is exactly the
// log's 256 MiB (525,314 pages of 511 bytes each and the 2-byte header) is
// accepted, one byte more refused; the largest count, pages of 1 byte
// with IDs assigned, is accepted (80 MiB); and that count with the
// largest sizes and IDs (17 bytes a page) is refused by the page where
// the record passes 256 MiB, as the bus would.
func TestCheckCreateArgsAtTheBounds(t *testing.T) {
	const n, opBytes = 525314, 511 // 2 + 525314*511 = 2^28
	// 1 (tag) + 1 (ID 0: assigned) + 1 (size 8) + 1 (location) + 2 + 505
	// (the metadata's length and bytes).
	if createOpMinBytes(0, 8, 505) != opBytes || minRecordHeader+n*opBytes != tlog.MaxRecordBytes {
		t.Fatalf("the arithmetic of this test is off: %d bytes a page", createOpMinBytes(0, 8, 505))
	}
	uniform := func(id uint64, size uint32) createSpec {
		return func(int) (uint64, uint32) { return id, size }
	}
	if err := checkCreateArgs(n, uniform(0, 8), 505); err != nil {
		t.Errorf("a record of exactly %d bytes: %v", tlog.MaxRecordBytes, err)
	}
	lastLarger := func(i int) (uint64, uint32) {
		if i == n-1 {
			return 0, 128 // a 2-byte varint: one byte more
		}
		return 0, 8
	}
	if err := checkCreateArgs(n, lastLarger, 505); !errors.Is(err, mmsb.ErrRecordTooLarge) ||
		!strings.Contains(err.Error(), fmt.Sprintf("by page %d", n-1)) {
		t.Errorf("a record of %d bytes: %v, want ErrRecordTooLarge by page %d", tlog.MaxRecordBytes+1, err, n-1)
	}
	if err := checkCreateArgs(maxCreatePages, uniform(0, 1), 0); err != nil {
		t.Errorf("%d pages of 1 byte: %v", maxCreatePages, err)
	}
	if strconv.IntSize == 64 && !raceEnabled { // 2^24 turns: seconds under -race
		// 2 + 17*k > 2^28 first at k = 15790321, page 15790320.
		err := checkCreateArgs(maxCreatePages, uniform(math.MaxUint64, mmsb.MaxPageSize), 0)
		if !errors.Is(err, mmsb.ErrRecordTooLarge) || !strings.Contains(err.Error(), "by page 15790320") {
			t.Errorf("%d pages of 17 bytes each: %v, want ErrRecordTooLarge by page 15790320", maxCreatePages, err)
		}
	}
}

// sliceFails reports whether unsafe.Slice panics on n elements of T at
// address p (it only checks the span, reading nothing). p's bits are
// reinterpreted as a pointer rather than converted, which vet would flag.
func sliceFails[T any](p uintptr, n int) (failed bool) {
	defer func() {
		if recover() != nil {
			failed = true
		}
	}()
	return len(unsafe.Slice(*(**T)(unsafe.Pointer(&p)), n)) != n
}

// TestSpanFitsIsUnsafeSlicesCondition: spanFits accepts exactly the
// spans on which unsafe.Slice does not panic, compared with the runtime
// itself at the top of the address space (the last byte, 7, 8 and 9
// bytes before it, a page before it), half-way up, and low, for element
// sizes of C arrays (1, 4, 8, and structs of 20, 24 and 32 bytes) with
// counts around the room left and around the largest int and uintptr
// (where the product overflows, on 32 bits too: run with GOARCH=386).
// Under -race, whose checkptr makes a failing unsafe.Slice a fatal error,
// the runtime's check is modelled (runtime.unsafeslice: the product
// overflows a uintptr, or passes the bytes left to the end); without
// -race both are compared. Spans low in the address space stay small:
// checkptr throws on a span that would cover Go's heap.
func TestSpanFitsIsUnsafeSlicesCondition(t *testing.T) {
	top := ^uintptr(0)
	check := func(p uintptr, n uint64, size uintptr) {
		t.Helper()
		if n > uint64(^uintptr(0)) {
			return // no size_t of this platform holds it
		}
		// int(n) is negative above the largest int, as a size_t that
		// large would be in the exports without spanFits' check.
		hi, mem := bits.Mul(uint(n), uint(size))
		model := int(n) < 0 || hi != 0 || uintptr(mem) > -p
		if got := spanFits(p, n, size); got == model {
			t.Errorf("spanFits(%#x, %d, %d) = %v, the runtime's check accepts it: %v", p, n, size, got, !model)
		}
		if raceEnabled {
			return
		}
		var fails bool
		switch size {
		case 1:
			fails = sliceFails[[1]byte](p, int(n))
		case 4:
			fails = sliceFails[[4]byte](p, int(n))
		case 8:
			fails = sliceFails[[8]byte](p, int(n))
		case 20:
			fails = sliceFails[[20]byte](p, int(n))
		case 24:
			fails = sliceFails[[24]byte](p, int(n))
		case 32:
			fails = sliceFails[[32]byte](p, int(n))
		default:
			t.Fatalf("no element type of %d bytes", size)
		}
		if got := spanFits(p, n, size); got == fails {
			t.Errorf("spanFits(%#x, %d, %d) = %v, unsafe.Slice makes it: %v", p, n, size, got, !fails)
		}
	}
	big := []uint64{math.MaxInt32, math.MaxInt32 + 1, math.MaxUint32, math.MaxUint32 + 1,
		uint64(math.MaxInt), uint64(math.MaxInt) + 1, uint64(^uintptr(0)), math.MaxUint64}
	for _, size := range []uintptr{1, 4, 8, 20, 24, 32} {
		for _, p := range []uintptr{top, top - 6, top - 7, top - 8, top - 4095, top/2 + 1} {
			room := uint64(-p) / uint64(size) // elements that fit before the end
			for _, n := range []uint64{0, 1, 2, 8, 9, room - 1, room, room + 1} {
				check(p, n, size)
			}
			for _, n := range big {
				check(p, n, size)
				check(p, n/uint64(size), size)
				check(p, n/uint64(size)+1, size)
			}
		}
		// Low: only spans that stay below 8 KiB, or that fail.
		for _, n := range []uint64{0, 1, 4096 / uint64(size)} {
			check(4096, n, size)
		}
		for _, n := range big {
			if !spanFits(4096, n, size) {
				check(4096, n, size)
			}
		}
	}
}
