package page

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestTryReadInRangeReusedByAnotherReader: a closed reader's ranges are
// reused by the next reader's mappings (shm_ranges.go), so a lock-free
// read still in flight on the closed reader can meet another region's
// file where its mappings were. Here fn closes reader 1 and opens reader
// 2 on another region, laid out the same (same page, same sequence word)
// but with other bytes, which takes over reader 1's ranges: fn then sees
// region 2's bytes through reader 1's slice, and TryRead must discard the
// attempt, not report region 2's page as reader 1's.
//
// Page 2 in slot 0 with sequence word 2 in both regions: the slot arrays
// of equal lengths are reused in the pool's order, which puts region 2's
// ID array where reader 1's sequence array was, so the sequence re-check
// reads the page ID, 2, unchanged. Only TryRead's last check, that the
// fast view is still published, discards the attempt (negative control:
// without that check the attempt is reported done, over region 2's bytes).
func TestTryReadInRangeReusedByAnotherReader(t *testing.T) {
	dir1, dir2 := pageTwoRegion(t, 0xaa), pageTwoRegion(t, 0xbb)
	r1, err := OpenShmReader(dir1)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _, err := r1.Read(2, func([]byte) error { return nil }, 64); err != nil || !found {
		t.Fatalf("first read (maps the chunk): found %v, %v", found, err)
	}
	hdr1 := unsafe.SliceData(r1.hdr)
	var r2 *ShmReader
	var first, seen byte
	done, _, err := r1.TryRead(2, func(b []byte) error {
		first = b[0]
		if cerr := r1.Close(); cerr != nil {
			t.Errorf("Close: %v", cerr)
		}
		var oerr error
		if r2, oerr = OpenShmReader(dir2); oerr != nil {
			t.Errorf("open of the second region: %v", oerr)
			return nil
		}
		if _, found, _, rerr := r2.Read(2, func([]byte) error { return nil }, 64); rerr != nil || !found {
			t.Errorf("read of the second region: found %v, %v", found, rerr)
		}
		seen = b[len(b)-1]
		return nil
	}, nil)
	if r2 != nil {
		defer r2.Close()
		if unsafe.SliceData(r2.hdr) != hdr1 {
			t.Error("the second reader did not reuse the closed reader's header range")
		}
	}
	t.Logf("fn saw %#x, then %#x after the other reader opened", first, seen)
	if first != 0xaa {
		t.Fatalf("fn saw %#x before the Close, want region 1's 0xaa", first)
	}
	if err != nil || done {
		t.Fatalf("TryRead of a closed reader over a range reused by another: done %v, err %v (fn saw %#x); want the attempt discarded", done, err, seen)
	}
}

// faultSink keeps a load the test expects to fault from being optimised
// away.
var faultSink byte

// pageTwoRegion publishes a region holding page 2 (4096 bytes, every byte
// fill) in slot 0, with sequence word 2, and returns its directory.
func pageTwoRegion(t *testing.T, fill byte) string {
	t.Helper()
	s, dir := sharedStore(t)
	sl, err := s.Create(2, 4096, base.LocationCPU)
	if err != nil {
		t.Fatal(err)
	}
	s.BeginWrite(sl, 1)
	copy(s.Bytes(sl), bytes.Repeat([]byte{fill}, 4096))
	s.EndWrite(sl, 1) // sequence word 2, as the page's ID
	if sl != 0 {
		t.Fatalf("page 2 in slot %d, want 0", sl)
	}
	if err := s.Publish(dir, 0); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTryReadFaultInRangeReusedByAnotherReader: a lock-free read still in
// flight on a closed reader whose page range another reader has taken
// over (shm_ranges.go) meets that reader's file there; when its owner
// truncated it, the read faults. The fault lies in the closed reader's
// view, so TryRead used to report it as done, with ErrBadShared: a Reader
// closed or reattached under a View (the attachment replaced) failed with
// ErrSharedCorrupt for another region's file. A fault in a view no longer
// published is declined like the attempt it ends (control: "done true,
// err page: malformed shared region: .../region: read page 2: fault at
// offset 0 of its mapping of c0.1 (the file shrank under the reader)").
func TestTryReadFaultInRangeReusedByAnotherReader(t *testing.T) {
	dir1, dir2 := pageTwoRegion(t, 0xaa), pageTwoRegion(t, 0xbb)
	r1, err := OpenShmReader(dir1)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _, err := r1.Read(2, func([]byte) error { return nil }, 64); err != nil || !found {
		t.Fatalf("first read (maps the chunk): found %v, %v", found, err)
	}
	var r2 *ShmReader
	truncated := ""
	done, _, err := r1.TryRead(2, func(b []byte) error {
		if cerr := r1.Close(); cerr != nil {
			t.Errorf("Close: %v", cerr)
		}
		var oerr error
		if r2, oerr = OpenShmReader(dir2); oerr != nil {
			t.Errorf("open of the second region: %v", oerr)
			return nil
		}
		if _, found, _, rerr := r2.Read(2, func([]byte) error { return nil }, 64); rerr != nil || !found {
			t.Errorf("read of the second region: found %v, %v", found, rerr)
			return nil
		}
		// The file of region 2 that reader 2 mapped where b lies.
		name, _, ok := r2.mappingAt(uintptr(unsafe.Pointer(unsafe.SliceData(b))), nil)
		if !ok {
			t.Errorf("the second reader did not reuse the range of the closed reader's page")
			return nil
		}
		truncated = name
		if terr := os.Truncate(filepath.Join(dir2, name), 0); terr != nil {
			t.Errorf("truncate %s: %v", name, terr)
			return nil
		}
		faultSink = b[0] // faults: the file behind it is gone
		t.Errorf("no fault reading truncated %s", name)
		return nil
	}, nil)
	if r2 != nil {
		defer r2.Close()
	}
	if done || err != nil {
		t.Fatalf("TryRead of a closed reader faulting in %s, which another reader mapped over its range: done %v, err %v; want the attempt declined", truncated, done, err)
	}
}

// TestSpareRangesServeOtherLengths: the pool of spare ranges serves a
// mapping from a longer range when it holds none of the mapping's length,
// so ranges of ever new lengths do not each take new address space. 64
// mappings of 64, 63, ..., 1 pages, each released before the next (a
// process whose readers come and go while the lengths change) reserve
// 64 pages once; the pool then holds exactly those 64 pages, each once
// (one range: the pieces are joined again, TestSpareRangesJoinPieces).
// Before, only exact lengths were reused: 64 reservations, 2080 pages,
// all of them kept in the pool for good.
func TestSpareRangesServeOtherLengths(t *testing.T) {
	emptyPool(t)
	const most = 64
	reserved := 0
	for pages := most; pages >= 1; pages-- {
		n := pages * osPageSize
		r := takeRange(n)
		if r == nil {
			m, err := unix.Mmap(-1, 0, n, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
			if err != nil {
				t.Fatal(err)
			}
			r = m
			reserved += pages
		}
		if len(r) != n || cap(r) != n {
			t.Fatalf("takeRange(%d pages) gave len %d cap %d bytes, want %d", pages, len(r), cap(r), n)
		}
		if err := releaseRange(r); err != nil {
			t.Fatal(err)
		}
	}
	if reserved != most {
		t.Errorf("mappings of %d down to 1 pages, each released before the next, reserved %d pages of new address space; want %d (the first)", most, reserved, most)
	}
	// What the pool holds: every page reserved, once.
	type span struct{ at, n uintptr }
	var spans []span
	total := 0
	spareRanges.mu.Lock()
	for n, l := range spareRanges.free {
		for _, p := range l {
			spans = append(spans, span{uintptr(p), uintptr(n)})
			total += n
		}
	}
	spareRanges.mu.Unlock()
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.at, b.at) })
	for i := 1; i < len(spans); i++ {
		if spans[i-1].at+spans[i-1].n > spans[i].at {
			t.Fatalf("the pool holds overlapping ranges %#x+%d and %#x+%d", spans[i-1].at, spans[i-1].n, spans[i].at, spans[i].n)
		}
	}
	if total != reserved*osPageSize {
		t.Errorf("the pool holds %d bytes in %d ranges; want the %d reserved", total, len(spans), reserved*osPageSize)
	}
}

// TestReaderChunkReplacementKeepsAddressSpace: pages of two sizes, each
// with a chunk of its own, freed and created in turn on one chunk index,
// each read by one reader. The smaller file is mapped over the larger
// one's range, and the reader keeps the whole range for that index, so
// the larger one is mapped there again: the zero pages the reader holds
// stay flat. Before, the rest of the range was left behind (zero pages
// nobody mapped again) and every larger file took new address space:
// 4 MiB more at every turn ("8 turns left 33554432 more bytes").
func TestReaderChunkReplacementKeepsAddressSpace(t *testing.T) {
	s, dir := sharedStore(t)
	const small, large = 3 << 20, 4 << 20 // each a chunk of its own
	lsn := uint64(1)
	idx := s.cell(createFilled(t, s, 1, large, 0xaa, lsn)).ref >> cellBits
	r := publishAndOpen(t, s, dir, lsn)
	turn := func(id base.PageID, size int, fill byte) {
		t.Helper()
		if err := s.Free(id - 1); err != nil {
			t.Fatal(err)
		}
		lsn++
		if got := s.cell(createFilled(t, s, id, size, fill, lsn)).ref >> cellBits; got != idx {
			t.Skipf("page %d went to chunk %d, not the freed chunk %d", id, got, idx)
		}
		s.PublishLSN(lsn)
		b, found, err := readCopy(r, uint64(id), 100)
		if err != nil || !found || len(b) != size || b[0] != fill || b[size-1] != fill {
			t.Fatalf("page %d of %d bytes: found %v, %d bytes, %v", id, size, found, len(b), err)
		}
	}
	if b, found, err := readCopy(r, 1, 100); err != nil || !found || len(b) != large {
		t.Fatalf("page 1: found %v, %d bytes, %v", found, len(b), err)
	}
	id := base.PageID(2)
	turn(id, small, 0xbb) // the first turn leaves the zero pages the later ones keep
	id++
	before := readerZeroPageBytes(t)
	const turns = 8
	for range turns {
		turn(id, large, 0xcc)
		turn(id+1, small, 0xdd)
		id += 2
	}
	after := readerZeroPageBytes(t)
	t.Logf("zero-page reservations: %d bytes before, %d after %d turns", before, after, turns)
	if grew := after - before; grew > large {
		t.Fatalf("%d turns left %d more bytes of zero pages reserved", turns, grew)
	}
}

// readerZeroPageBytes sums this process's private read-only anonymous
// mappings (the zero pages of released reader ranges, in the pool or
// not), from /proc/self/maps.
func readerZeroPageBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		testutil.Missing(t, "no /proc/self/maps: %v", err)
	}
	var total int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || f[1] != "r--p" || f[4] != "0" {
			continue
		}
		var lo, hi int64
		if _, err := fmt.Sscanf(f[0], "%x-%x", &lo, &hi); err == nil {
			total += hi - lo
		}
	}
	return total
}

// emptyPool gives the test an empty pool of spare ranges of its own: no
// other range is taken or left. At its end the ranges the pool holds are
// unmapped (the test's own, never a reader's) and the pool restored.
func emptyPool(t *testing.T) {
	spareRanges.mu.Lock()
	free, at, end := spareRanges.free, spareRanges.at, spareRanges.end
	spareRanges.free, spareRanges.at, spareRanges.end = nil, nil, nil
	spareRanges.mu.Unlock()
	t.Cleanup(func() {
		spareRanges.mu.Lock()
		defer spareRanges.mu.Unlock()
		for n, l := range spareRanges.free {
			for _, p := range l {
				_ = unix.Munmap(unsafe.Slice((*byte)(p), n)) // refused for a piece: left, reserved
			}
		}
		spareRanges.free, spareRanges.at, spareRanges.end = free, at, end
	})
}

// TestSpareRangesJoinPieces: the pieces of a spare range split for
// shorter mappings are joined again as they come back, in either order,
// so a mapping of the range's whole length takes it again instead of new
// address space. Before, a 64-page range split for a 32-page mapping
// stayed two 32-page ranges, and every later 64-page mapping reserved 64
// pages more beside them ("takeRange(64 pages) ...: nil").
func TestSpareRangesJoinPieces(t *testing.T) {
	emptyPool(t)
	const pages = 64
	n := pages * osPageSize
	m, err := unix.Mmap(-1, 0, n, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	if err := releaseRange(m); err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{"first piece back first", "second piece back first"} {
		a := takeRange(n / 2)
		b := takeRange(n / 2) // the rest, exactly
		if a == nil || b == nil {
			t.Fatalf("%s: two halves of the spare range: %v, %v", order, a != nil, b != nil)
		}
		first, second := a, b
		if order == "second piece back first" {
			first, second = b, a
		}
		if err := releaseRange(first); err != nil {
			t.Fatal(err)
		}
		if err := releaseRange(second); err != nil {
			t.Fatal(err)
		}
		r := takeRange(n)
		if r == nil || unsafe.SliceData(r) != unsafe.SliceData(m) {
			t.Fatalf("%s: takeRange(%d pages) after the halves of the %d-page spare range came back: %p; want the range at %p", order, pages, pages, unsafe.SliceData(r), unsafe.SliceData(m))
		}
		if err := releaseRange(r); err != nil {
			t.Fatal(err)
		}
	}
	spareRanges.mu.Lock()
	defer spareRanges.mu.Unlock()
	if len(spareRanges.free) != 1 || len(spareRanges.free[n]) != 1 || len(spareRanges.at) != 1 || len(spareRanges.end) != 1 {
		t.Fatalf("the pool after the pieces came back: lengths %d, starts %d, ends %d; want the one %d-page range", len(spareRanges.free), len(spareRanges.at), len(spareRanges.end), pages)
	}
}
