//go:build cgo

package main

/*
#define MMSB_BUILDING_LIBRARY
#include "mmsb.h"
*/
import "C"

import (
	"context"
	"math"
	"math/bits"
	"sync"
	"unsafe"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/page"
)

// abiVersion is MMSB_ABI_VERSION of the mmsb.h this library implements.
const abiVersion = C.MMSB_ABI_VERSION

// Sizes of the structs with struct_size (see structLayout): as this
// library knows them, and as the first ABI that had them published them.
// Both are unchanged since ABI 1.0.
const (
	optionsSize   = unsafe.Sizeof(C.mmsb_options{})
	optionsAlign  = unsafe.Alignof(C.mmsb_options{})
	optionsSizeV1 = optionsSize // ABI 1.0
	statsSize     = unsafe.Sizeof(C.mmsb_stats{})
	statsAlign    = unsafe.Alignof(C.mmsb_stats{})
	statsSizeV1   = statsSize // ABI 1.0
)

// The structs with struct_size. Both are unchanged since ABI 1.0, so their
// first size is today's. When a field is added at the end, known grows with
// the header and first stays: set it to the old sizeof (the offset of the
// old last field plus its size, rounded up to the old alignment) so that a
// program built against the older header keeps working.
var (
	optionsLayout = structLayout{"mmsb_options", optionsSizeV1, optionsSize, optionsAlign}
	statsLayout   = structLayout{"mmsb_stats", statsSizeV1, statsSize, statsAlign}
)

// Bounds on counts passed in from C, so that a garbage count is an error
// instead of an allocation that kills the process. A batch or a page
// creation larger than these is better split anyway.
const (
	maxBatchWrites = 1 << 24 // writes in one commit
	maxBufferBytes = 1 << 40 // a caller buffer's capacity is clamped to this
	// maxCreatePages (createcheck.go) bounds the pages of one creation.
)

//export mmsb_abi_version
func mmsb_abi_version() C.uint32_t { return abiVersion }

// bus resolves a handle, recording the error for a closed or invalid one.
func bus(h C.mmsb_bus) (*mmsb.Bus, C.int) {
	b, st := handles.lookup(uint64(h))
	switch st {
	case handleOpen:
		return b, C.MMSB_OK
	case handleClosed:
		return nil, failf(C.MMSB_ERR_CLOSED, "mmsb: bus handle %d was closed", uint64(h))
	default:
		return nil, failf(C.MMSB_ERR_INVALID_HANDLE, "mmsb: %d is not a bus handle", uint64(h))
	}
}

func nullArg(name string) C.int {
	return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: %s is NULL", name)
}

// busOut resolves h for a function that stores its result in *out: a
// closed or invalid handle is reported first, then a NULL out.
func busOut[T any](h C.mmsb_bus, out *T) (*mmsb.Bus, C.int) {
	b, st := bus(h)
	if st == C.MMSB_OK && out == nil {
		return nil, nullArg("out")
	}
	return b, st
}

// busBuffer resolves h for a function that fills a caller's buffer (the
// convention of mmsb.h: the size needed in *length, buf NULL only with a
// capacity of 0), checked in that order, and returns the buffer as
// callerBuffer does.
func busBuffer(h C.mmsb_bus, buf unsafe.Pointer, capacity C.size_t, length *C.size_t) (*mmsb.Bus, []byte, C.int) {
	b, st := bus(h)
	switch {
	case st != C.MMSB_OK:
		return nil, nil, st
	case length == nil:
		return nil, nil, nullArg("len")
	case buf == nil && capacity != 0:
		return nil, nil, nullArg("buf (with a non-zero capacity)")
	}
	return b, callerBuffer(buf, capacity), C.MMSB_OK
}

// checkSpan refuses an argument what of n elements of size bytes at p
// that would pass the end of the address space (see spanFits): checked
// before unsafe.Slice, which panics on it. NULL passes (the caller checks
// it); a pointer that fits but names no memory still faults, as it would
// in any C function.
func checkSpan(what string, p unsafe.Pointer, n uint64, size uintptr) C.int {
	if p == nil || spanFits(uintptr(p), n, size) {
		return C.MMSB_OK
	}
	return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: %s: %d elements of %d bytes at %#x would pass the end of the address space",
		what, n, size, uintptr(p))
}

//export mmsb_open
func mmsb_open(dir *C.char, opts *C.mmsb_options, out *C.mmsb_bus) (st C.int) {
	defer recoverStatus(&st)
	if dir == nil {
		return nullArg("dir")
	}
	if out == nil {
		return nullArg("out")
	}
	o := &mmsb.Options{}
	if p := opts; p != nil {
		// Read only the bytes the caller declared (an older program's
		// struct may be smaller) into a zeroed copy: fields past them take
		// their defaults. See structLayout.
		opts = new(C.mmsb_options)
		if err := optionsLayout.copyIn(unsafe.Pointer(opts), unsafe.Pointer(p), uint32(p.struct_size)); err != nil {
			return failf(C.MMSB_ERR_INVALID_ARGUMENT, "%v", err)
		}
		if opts.reserved != 0 {
			return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: mmsb_options.reserved is %d, want 0", int32(opts.reserved))
		}
		switch opts.sync {
		case C.MMSB_SYNC_GROUP:
			o.Sync = mmsb.SyncGroup
		case C.MMSB_SYNC_ALWAYS:
			o.Sync = mmsb.SyncAlways
		case C.MMSB_SYNC_NONE:
			o.Sync = mmsb.SyncNone
		default:
			return failf(C.MMSB_ERR_INVALID_OPTION, "mmsb: sync mode %d is not MMSB_SYNC_GROUP, _ALWAYS or _NONE", int32(opts.sync))
		}
		if opts.workers < 0 {
			return failf(C.MMSB_ERR_INVALID_OPTION, "mmsb: workers %d is negative", int32(opts.workers))
		}
		o.Shared = opts.shared != 0
		o.SharedGroup = opts.shared_group != 0
		if opts.shared_dir != nil {
			o.SharedDir = C.GoString(opts.shared_dir)
		}
		o.CheckpointBytes = int64(opts.checkpoint_bytes)
		o.SegmentBytes = int64(opts.segment_bytes)
		o.Workers = int(opts.workers)
	}
	b, err := mmsb.Open(C.GoString(dir), o)
	if err != nil {
		return fail(err)
	}
	*out = C.mmsb_bus(handles.add(b))
	return C.MMSB_OK
}

//export mmsb_close
func mmsb_close(h C.mmsb_bus) (st C.int) {
	defer recoverStatus(&st)
	b, hs := handles.remove(uint64(h))
	switch hs {
	case handleClosed:
		return failf(C.MMSB_ERR_CLOSED, "mmsb: bus handle %d was already closed", uint64(h))
	case handleInvalid:
		return failf(C.MMSB_ERR_INVALID_HANDLE, "mmsb: %d is not a bus handle", uint64(h))
	}
	if err := b.Close(); err != nil {
		return fail(err)
	}
	return C.MMSB_OK
}

//export mmsb_create_pages
func mmsb_create_pages(h C.mmsb_bus, ids *C.uint64_t, sizes *C.uint32_t, n C.size_t, outIDs *C.uint64_t) (st C.int) {
	defer recoverStatus(&st)
	b, st := bus(h)
	if st != C.MMSB_OK {
		return st
	}
	return createPages(b, ids, sizes, n, nil, outIDs)
}

// createPages is mmsb_create_pages, every page with metadata meta (nil:
// none; mmsb_create_pages_meta).
func createPages(b *mmsb.Bus, ids *C.uint64_t, sizes *C.uint32_t, n C.size_t, meta []mmsb.MetaEntry, outIDs *C.uint64_t) C.int {
	if n == 0 || n > maxCreatePages {
		return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: page count %d is outside 1..%d", uint64(n), maxCreatePages)
	}
	if sizes == nil {
		return nullArg("sizes")
	}
	for _, a := range []struct {
		what string
		p    unsafe.Pointer
		size uintptr
	}{{"sizes", unsafe.Pointer(sizes), 4}, {"ids", unsafe.Pointer(ids), 8}, {"out_ids", unsafe.Pointer(outIDs), 8}} {
		if st := checkSpan(a.what, a.p, uint64(n), a.size); st != C.MMSB_OK {
			return st
		}
	}
	sz := unsafe.Slice((*uint32)(unsafe.Pointer(sizes)), int(n))
	var idv []uint64
	if ids != nil {
		idv = unsafe.Slice((*uint64)(unsafe.Pointer(ids)), int(n))
	}
	// Checked from the caller's arrays before the specs are made (up to
	// 2^24 of them): a batch the bus must refuse for its sizes or its
	// record costs no allocation.
	var metaBytes uint64
	if len(meta) > 0 {
		metaBytes = uint64(len(page.AppendMeta(nil, metaIn(meta))))
	}
	err := checkCreateArgs(int(n), func(i int) (uint64, uint32) {
		if idv == nil {
			return 0, sz[i]
		}
		return idv[i], sz[i]
	}, metaBytes)
	if err != nil {
		return fail(err)
	}
	specs := make([]mmsb.PageSpec, n)
	for i := range specs {
		specs[i].Size = int(sz[i])
		specs[i].Meta = meta
		if idv != nil {
			specs[i].ID = mmsb.PageID(idv[i])
		}
	}
	got, err := b.CreatePages(context.Background(), specs)
	// A batch logged and applied, then failed (MMSB_ERR_FAILED), names
	// its pages too: they exist.
	if outIDs != nil && len(got) == int(n) {
		out := unsafe.Slice((*uint64)(unsafe.Pointer(outIDs)), int(n))
		for i, id := range got {
			out[i] = uint64(id)
		}
	}
	if err != nil {
		return fail(err)
	}
	return C.MMSB_OK
}

//export mmsb_free_page
func mmsb_free_page(h C.mmsb_bus, page C.uint64_t) (st C.int) {
	defer recoverStatus(&st)
	b, st := bus(h)
	if st != C.MMSB_OK {
		return st
	}
	if err := b.FreePage(context.Background(), mmsb.PageID(page)); err != nil {
		return fail(err)
	}
	return C.MMSB_OK
}

// batchScratch holds the Go side of one commit: a delta and a run per
// write, pointing at the caller's C memory (valid for the call; the bus
// copies what it keeps: the log encodes the bytes, the pages receive them).
// Pooled so that a commit allocates nothing in steady state.
type batchScratch struct {
	ds   []delta.Delta
	runs []delta.Run
}

var scratchPool = sync.Pool{New: func() any { return new(batchScratch) }}

func getScratch(n int) *batchScratch {
	s := scratchPool.Get().(*batchScratch)
	if cap(s.ds) < n {
		s.ds = make([]delta.Delta, n)
		s.runs = make([]delta.Run, n)
	}
	s.ds, s.runs = s.ds[:n], s.runs[:n]
	return s
}

// putScratch drops the references to C memory before pooling the scratch,
// so that nothing reachable from Go points at memory the caller may free.
func putScratch(s *batchScratch) {
	clear(s.runs)
	clear(s.ds)
	scratchPool.Put(s)
}

// commitBatch commits s's deltas and fills info.
func commitBatch(b *mmsb.Bus, ds []delta.Delta, flags C.uint32_t, info *C.mmsb_commit_info) C.int {
	var (
		ci  mmsb.CommitInfo
		err error
	)
	if flags&C.MMSB_COMMIT_ASYNC != 0 {
		ci, err = b.CommitAsync(context.Background(), ds)
	} else {
		ci, err = b.Commit(context.Background(), ds)
	}
	if err != nil {
		return fail(err)
	}
	if info != nil {
		info.first_lsn = C.uint64_t(ci.FirstLSN)
		info.last_lsn = C.uint64_t(ci.LastLSN)
		info.time = C.int64_t(ci.Time)
	}
	return C.MMSB_OK
}

func checkCommitArgs(n C.size_t, flags C.uint32_t) C.int {
	if n == 0 || n > maxBatchWrites {
		return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: batch of %d writes is outside 1..%d", uint64(n), maxBatchWrites)
	}
	if flags&^C.MMSB_COMMIT_ASYNC != 0 {
		return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: unknown commit flags %#x", uint32(flags))
	}
	return C.MMSB_OK
}

// setExpectations applies expect_epochs (when not NULL) to ds; the caller
// checked its span (checkSpan).
func setExpectations(ds []delta.Delta, expect *C.uint64_t) {
	if expect == nil {
		return
	}
	ev := unsafe.Slice((*uint64)(unsafe.Pointer(expect)), len(ds))
	for i, e := range ev {
		if e != math.MaxUint64 {
			ds[i].CheckEpoch, ds[i].ExpectEpoch = true, mmsb.Epoch(e)
		}
	}
}

//export mmsb_commit
func mmsb_commit(h C.mmsb_bus, writes *C.mmsb_write, n C.size_t, expect *C.uint64_t, flags C.uint32_t, info *C.mmsb_commit_info) (st C.int) {
	defer recoverStatus(&st)
	b, st := bus(h)
	if st != C.MMSB_OK {
		return st
	}
	if st := checkCommitArgs(n, flags); st != C.MMSB_OK {
		return st
	}
	if writes == nil {
		return nullArg("writes")
	}
	if st := checkSpan("writes", unsafe.Pointer(writes), uint64(n), unsafe.Sizeof(*writes)); st != C.MMSB_OK {
		return st
	}
	if st := checkSpan("expect_epochs", unsafe.Pointer(expect), uint64(n), 8); st != C.MMSB_OK {
		return st
	}
	ws := unsafe.Slice(writes, int(n))
	s := getScratch(int(n))
	defer putScratch(s)
	for i := range ws {
		w := &ws[i]
		if w.len > 0 && w.data == nil {
			return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: write %d (page %d) has len %d and NULL data", i, uint64(w.page), uint32(w.len))
		}
		// Refused before the slice is made: on a 32-bit platform a len of
		// 2 GiB or more is a negative int, on which unsafe.Slice panics
		// (MMSB_ERR_INTERNAL). No page is larger, so the write is out of
		// range on every platform, the status a 64-bit build gave it.
		if w.len > mmsb.MaxPageSize {
			return failf(C.MMSB_ERR_OUT_OF_RANGE, "mmsb: write %d (page %d) has len %d, over the largest page size (%d bytes); nothing was committed",
				i, uint64(w.page), uint32(w.len), mmsb.MaxPageSize)
		}
		// Checked, and its message formatted only when it fails: this
		// loop runs per write of every commit.
		if w.data != nil && !spanFits(uintptr(unsafe.Pointer(w.data)), uint64(w.len), 1) {
			return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: data of write %d (page %d): %d elements of 1 bytes at %#x would pass the end of the address space",
				i, uint64(w.page), uint32(w.len), uintptr(unsafe.Pointer(w.data)))
		}
		var data []byte
		if w.len > 0 {
			data = unsafe.Slice((*byte)(unsafe.Pointer(w.data)), int(w.len))
		}
		s.runs[i] = delta.Run{Offset: uint32(w.offset), Data: data}
		s.ds[i] = delta.Delta{Page: mmsb.PageID(w.page), Runs: s.runs[i : i+1 : i+1]}
	}
	setExpectations(s.ds, expect)
	return commitBatch(b, s.ds, flags, info)
}

//export mmsb_commit_array
func mmsb_commit_array(h C.mmsb_bus, pages *C.uint64_t, offsets *C.uint32_t, data *C.uint8_t, n C.size_t, width C.size_t, expect *C.uint64_t, flags C.uint32_t, info *C.mmsb_commit_info) (st C.int) {
	defer recoverStatus(&st)
	b, st := bus(h)
	if st != C.MMSB_OK {
		return st
	}
	if st := checkCommitArgs(n, flags); st != C.MMSB_OK {
		return st
	}
	if width == 0 || width > mmsb.MaxPageSize {
		return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: write width %d is outside 1..%d", uint64(width), mmsb.MaxPageSize)
	}
	switch {
	case pages == nil:
		return nullArg("pages")
	case offsets == nil:
		return nullArg("offsets")
	case data == nil:
		return nullArg("data")
	}
	hi, total := bits.Mul64(uint64(n), uint64(width))
	if hi != 0 || total > maxBufferBytes || total > math.MaxInt {
		return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: %d writes of %d bytes is too much data for one batch", uint64(n), uint64(width))
	}
	for _, a := range []struct {
		what string
		p    unsafe.Pointer
		n    uint64
		size uintptr
	}{
		{"pages", unsafe.Pointer(pages), uint64(n), 8}, {"offsets", unsafe.Pointer(offsets), uint64(n), 4},
		{"data", unsafe.Pointer(data), total, 1}, {"expect_epochs", unsafe.Pointer(expect), uint64(n), 8},
	} {
		if st := checkSpan(a.what, a.p, a.n, a.size); st != C.MMSB_OK {
			return st
		}
	}
	pv := unsafe.Slice((*uint64)(unsafe.Pointer(pages)), int(n))
	ov := unsafe.Slice((*uint32)(unsafe.Pointer(offsets)), int(n))
	dv := unsafe.Slice((*byte)(unsafe.Pointer(data)), int(total))
	w := int(width)
	s := getScratch(int(n))
	defer putScratch(s)
	runs, ds := s.runs, s.ds
	for i := range ds {
		runs[i] = delta.Run{Offset: ov[i], Data: dv[i*w : (i+1)*w : (i+1)*w]}
		ds[i] = delta.Delta{Page: mmsb.PageID(pv[i]), Runs: runs[i : i+1 : i+1]}
	}
	setExpectations(ds, expect)
	return commitBatch(b, ds, flags, info)
}

//export mmsb_wait_durable
func mmsb_wait_durable(h C.mmsb_bus, lsn C.uint64_t) (st C.int) {
	defer recoverStatus(&st)
	b, st := bus(h)
	if st != C.MMSB_OK {
		return st
	}
	if err := b.WaitDurable(context.Background(), mmsb.LSN(lsn)); err != nil {
		return fail(err)
	}
	return C.MMSB_OK
}

//export mmsb_flush
func mmsb_flush(h C.mmsb_bus) (st C.int) {
	defer recoverStatus(&st)
	b, st := bus(h)
	if st != C.MMSB_OK {
		return st
	}
	if err := b.Flush(context.Background()); err != nil {
		return fail(err)
	}
	return C.MMSB_OK
}

// callerBuffer returns the caller's buffer as an empty Go slice of its
// capacity (nil for a NULL buffer), so that an append that fits writes
// straight into it.
func callerBuffer(buf unsafe.Pointer, capacity C.size_t) []byte {
	if buf == nil {
		return nil
	}
	// Also below MaxInt: on a 32-bit platform a capacity of 2 GiB or more
	// became a negative length, and unsafe.Slice panicked. And short of the
	// address space's end: a generous capacity (SIZE_MAX) for a buffer high
	// in a 32-bit address space made buf+cap wrap, which unsafe.Slice
	// refuses with a panic (only the result is written, so the clamp is
	// safe).
	c := min(uint64(capacity), maxBufferBytes, uint64(math.MaxInt), uint64(^uintptr(buf)))
	return unsafe.Slice((*byte)(buf), int(c))[:0]
}

// copyOut finishes a read into a caller buffer: data either is already in
// buf (ReadPage appended into it) or is copied there; too small a buffer is
// MMSB_ERR_BUFFER_TOO_SMALL with the size needed in *length.
func copyOut(page C.uint64_t, data []byte, dst []byte, epoch mmsb.Epoch, length *C.size_t, ep *C.uint64_t) C.int {
	*length = C.size_t(len(data))
	if len(data) > cap(dst) {
		return failf(C.MMSB_ERR_BUFFER_TOO_SMALL, "mmsb: page %d holds %d bytes; the buffer holds %d", uint64(page), len(data), cap(dst))
	}
	if len(data) > 0 && unsafe.SliceData(data) != unsafe.SliceData(dst) {
		copy(dst[:len(data)], data)
	}
	if ep != nil {
		*ep = C.uint64_t(epoch)
	}
	return C.MMSB_OK
}

//export mmsb_read
func mmsb_read(h C.mmsb_bus, page C.uint64_t, buf *C.uint8_t, capacity C.size_t, length *C.size_t, epoch *C.uint64_t) (st C.int) {
	defer recoverStatus(&st)
	b, dst, st := busBuffer(h, unsafe.Pointer(buf), capacity, length)
	if st != C.MMSB_OK {
		return st
	}
	data, ep, err := b.ReadPage(mmsb.PageID(page), dst)
	if err != nil {
		return fail(err)
	}
	return copyOut(page, data, dst, ep, length, epoch)
}

//export mmsb_read_at
func mmsb_read_at(h C.mmsb_bus, page C.uint64_t, lsn C.uint64_t, buf *C.uint8_t, capacity C.size_t, length *C.size_t, epoch *C.uint64_t) (st C.int) {
	defer recoverStatus(&st)
	b, dst, st := busBuffer(h, unsafe.Pointer(buf), capacity, length)
	if st != C.MMSB_OK {
		return st
	}
	data, ep, err := b.ReadPageAt(context.Background(), mmsb.PageID(page), mmsb.LSN(lsn))
	if err != nil {
		return fail(err)
	}
	return copyOut(page, data, dst, ep, length, epoch)
}

//export mmsb_page_info_get
func mmsb_page_info_get(h C.mmsb_bus, page C.uint64_t, out *C.mmsb_page_info) (st C.int) {
	defer recoverStatus(&st)
	b, st := busOut(h, out)
	if st != C.MMSB_OK {
		return st
	}
	pi, err := b.Page(mmsb.PageID(page))
	if err != nil {
		return fail(err)
	}
	*out = C.mmsb_page_info{
		id:       C.uint64_t(pi.ID),
		size:     C.uint64_t(pi.Size),
		epoch:    C.uint64_t(pi.Epoch),
		last_lsn: C.uint64_t(pi.LastLSN),
		flags:    C.uint32_t(pi.Flags),
	}
	if pi.Derived {
		out.derived = 1
	}
	return C.MMSB_OK
}

//export mmsb_last_lsn
func mmsb_last_lsn(h C.mmsb_bus, out *C.uint64_t) (st C.int) {
	defer recoverStatus(&st)
	b, st := busOut(h, out)
	if st != C.MMSB_OK {
		return st
	}
	if err := b.Err(); err != nil && statusOf(err) == C.MMSB_ERR_CLOSED {
		return fail(err)
	}
	*out = C.uint64_t(b.LastLSN())
	return C.MMSB_OK
}

//export mmsb_state_hash
func mmsb_state_hash(h C.mmsb_bus, out *C.uint64_t) (st C.int) {
	defer recoverStatus(&st)
	b, st := busOut(h, out)
	if st != C.MMSB_OK {
		return st
	}
	sum, err := b.StateHash()
	if err != nil {
		return fail(err)
	}
	*out = C.uint64_t(sum)
	return C.MMSB_OK
}

//export mmsb_checkpoint
func mmsb_checkpoint(h C.mmsb_bus, info *C.mmsb_checkpoint_info) (st C.int) {
	defer recoverStatus(&st)
	b, st := bus(h)
	if st != C.MMSB_OK {
		return st
	}
	ci, err := b.Checkpoint(context.Background())
	if err != nil {
		return fail(err)
	}
	if info != nil {
		*info = C.mmsb_checkpoint_info{
			lsn:              C.uint64_t(ci.LSN),
			pages:            C.uint64_t(ci.Pages),
			bytes:            C.uint64_t(ci.Bytes),
			segments_removed: C.uint64_t(ci.SegmentsRemoved),
			duration_ns:      C.int64_t(ci.Duration.Nanoseconds()),
		}
	}
	return C.MMSB_OK
}

func cbool(v bool) C.int32_t {
	if v {
		return 1
	}
	return 0
}

//export mmsb_verify_replay
func mmsb_verify_replay(h C.mmsb_bus, fromNewestCheckpoint C.int, report *C.mmsb_replay_report) (st C.int) {
	defer recoverStatus(&st)
	b, st := bus(h)
	if st != C.MMSB_OK {
		return st
	}
	if report == nil {
		return nullArg("report")
	}
	r, err := b.VerifyReplay(context.Background(), fromNewestCheckpoint != 0)
	if err != nil {
		return fail(err)
	}
	*report = C.mmsb_replay_report{
		lsn:             C.uint64_t(r.LSN),
		checkpoint_lsn:  C.uint64_t(r.CheckpointLSN),
		live_hash:       C.uint64_t(r.LiveHash),
		replay_hash:     C.uint64_t(r.ReplayHash),
		pages:           C.uint64_t(r.Pages),
		pages_differing: C.uint64_t(r.PagesDiffering),
		bytes_differing: C.int64_t(r.BytesDiffering),
		l2_divergence:   C.double(r.L2Divergence),
		graph_equal:     cbool(r.GraphEqual),
		equal:           cbool(r.Equal()),
	}
	return C.MMSB_OK
}

//export mmsb_stats_get
func mmsb_stats_get(h C.mmsb_bus, out *C.mmsb_stats) (st C.int) {
	defer recoverStatus(&st)
	b, st := busOut(h, out)
	if st != C.MMSB_OK {
		return st
	}
	declared := uint32(out.struct_size)
	if err := statsLayout.checkSize(declared); err != nil {
		return failf(C.MMSB_ERR_INVALID_ARGUMENT, "%v", err)
	}
	s := b.Stats()
	var sync C.int32_t
	switch s.SyncMode {
	case mmsb.SyncAlways.String():
		sync = C.MMSB_SYNC_ALWAYS
	case mmsb.SyncNone.String():
		sync = C.MMSB_SYNC_NONE
	default:
		sync = C.MMSB_SYNC_GROUP
	}
	filled := C.mmsb_stats{
		struct_size:         C.uint32_t(declared),
		sync:                sync,
		pages:               C.uint64_t(s.Pages),
		logical_bytes:       C.int64_t(s.LogicalBytes),
		last_lsn:            C.uint64_t(s.LastLSN),
		written_lsn:         C.uint64_t(s.Log.WrittenLSN),
		durable_lsn:         C.uint64_t(s.Log.DurableLSN),
		log_records:         C.uint64_t(s.Log.Records),
		log_bytes:           C.uint64_t(s.Log.Bytes),
		log_syncs:           C.uint64_t(s.Log.Syncs),
		log_segments:        C.uint64_t(s.Log.Segments),
		checkpoints:         C.uint64_t(s.Checkpoints),
		last_checkpoint_lsn: C.uint64_t(s.LastCheckpoint),
		checkpoint_failures: C.uint64_t(s.CheckpointFailures),
		edges:               C.uint64_t(s.Edges),
		bindings:            C.uint64_t(s.Bindings),
		heap_bytes:          C.uint64_t(s.HeapBytes),
		arena_bytes:         C.int64_t(s.Store.ArenaBytes),
		in_memory:           cbool(s.InMemory),
		failed:              cbool(s.Failed),
	}
	// Write only the bytes the caller declared; a newer program's larger
	// struct gets zeros past the fields this library knows.
	if err := statsLayout.copyOut(unsafe.Pointer(out), unsafe.Pointer(&filled), declared); err != nil {
		return failf(C.MMSB_ERR_INVALID_ARGUMENT, "%v", err)
	}
	return C.MMSB_OK
}

//export mmsb_shared_path
func mmsb_shared_path(h C.mmsb_bus, buf *C.char, capacity C.size_t, length *C.size_t) (st C.int) {
	defer recoverStatus(&st)
	b, dst, st := busBuffer(h, unsafe.Pointer(buf), capacity, length)
	if st != C.MMSB_OK {
		return st
	}
	p := b.SharedPath()
	*length = C.size_t(len(p))
	if len(p) >= cap(dst) {
		return failf(C.MMSB_ERR_BUFFER_TOO_SMALL, "mmsb: the shared path needs %d bytes with its NUL; the buffer holds %d", len(p)+1, cap(dst))
	}
	dst = append(dst, p...)
	dst = append(dst, 0)
	_ = dst
	return C.MMSB_OK
}
