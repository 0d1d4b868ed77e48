//go:build cgo

package main

/*
#define MMSB_BUILDING_LIBRARY
#include "mmsb.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
)

// The page-metadata functions of ABI 1.2; the checks are in metacodec.go.

// metaFail reports a metadata error: a caller's mistake in the entries or
// the encoding is MMSB_ERR_INVALID_ARGUMENT, anything else its sentinel's
// code (too large: MMSB_ERR_INVALID_PAGE, as the Go API).
func metaFail(err error) C.int {
	if errors.Is(err, errMetaArgument) {
		return failCode(C.MMSB_ERR_INVALID_ARGUMENT, err.Error())
	}
	return fail(err)
}

// metaIn converts metadata to the page store's type (same layout).
func metaIn(ms []mmsb.MetaEntry) []page.MetaEntry {
	out := make([]page.MetaEntry, len(ms))
	for i, m := range ms {
		out[i] = page.MetaEntry(m)
	}
	return out
}

// metaFromC reads n entries of a C array into Go copies.
func metaFromC(meta *C.mmsb_meta_entry, n C.size_t) ([]mmsb.MetaEntry, error) {
	if err := checkMetaCount(uint64(n), meta == nil); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	if !spanFits(uintptr(unsafe.Pointer(meta)), uint64(n), unsafe.Sizeof(*meta)) {
		return nil, fmt.Errorf("%w: %d metadata entries at %#x would pass the end of the address space", errMetaArgument, uint64(n), uintptr(unsafe.Pointer(meta)))
	}
	var m metaBuilder
	for i, e := range unsafe.Slice(meta, int(n)) {
		if err := m.add(i, unsafe.Pointer(e.key), uint64(e.key_len), unsafe.Pointer(e.value), uint64(e.value_len)); err != nil {
			return nil, err
		}
	}
	return m.entries, nil
}

// busMeta resolves h for a function that takes metadata entries, then
// reads the metaN entries at meta (metaFromC), in that order.
func busMeta(h C.mmsb_bus, meta *C.mmsb_meta_entry, metaN C.size_t) (*mmsb.Bus, []mmsb.MetaEntry, C.int) {
	b, st := bus(h)
	if st != C.MMSB_OK {
		return nil, nil, st
	}
	entries, err := metaFromC(meta, metaN)
	if err != nil {
		return nil, nil, metaFail(err)
	}
	return b, entries, C.MMSB_OK
}

//export mmsb_page_meta
func mmsb_page_meta(h C.mmsb_bus, pg C.uint64_t, buf *C.uint8_t, capacity C.size_t, length *C.size_t) (st C.int) {
	defer recoverStatus(&st)
	b, dst, st := busBuffer(h, unsafe.Pointer(buf), capacity, length)
	if st != C.MMSB_OK {
		return st
	}
	pi, err := b.Page(mmsb.PageID(pg))
	if err != nil {
		return fail(err)
	}
	entries := metaIn(pi.Meta)
	size := 0
	if len(entries) > 0 {
		size = 4
		for _, m := range entries {
			size += 8 + len(m.Key) + len(m.Value)
		}
	}
	*length = C.size_t(size)
	if size > cap(dst) {
		return failf(C.MMSB_ERR_BUFFER_TOO_SMALL, "mmsb: page %d's metadata takes %d bytes; the buffer holds %d", uint64(pg), size, cap(dst))
	}
	// Fits: AppendMeta writes into the caller's buffer itself.
	_ = page.AppendMeta(dst, entries)
	return C.MMSB_OK
}

//export mmsb_meta_decode
func mmsb_meta_decode(meta *C.uint8_t, length C.size_t, entries *C.mmsb_meta_entry, capacity C.size_t, n *C.size_t) (st C.int) {
	defer recoverStatus(&st)
	switch {
	case n == nil:
		return nullArg("n")
	case meta == nil && length != 0:
		return nullArg("meta (with a non-zero len)")
	case entries == nil && capacity != 0:
		return nullArg("entries (with a non-zero capacity)")
	case uint64(length) > maxMetaBytes:
		// Refused before a slice is made of it: no page holds more.
		return failf(C.MMSB_ERR_INVALID_ARGUMENT, "mmsb: metadata of %d bytes is not an encoding: a page holds at most %d", uint64(length), maxMetaBytes)
	}
	if st := checkSpan("meta", unsafe.Pointer(meta), uint64(length), 1); st != C.MMSB_OK {
		return st
	}
	var src []byte
	if length > 0 {
		src = unsafe.Slice((*byte)(unsafe.Pointer(meta)), int(length))
	}
	spans, err := decodeMetaSpans(nil, src)
	if err != nil {
		return metaFail(err)
	}
	*n = C.size_t(len(spans))
	if uint64(len(spans)) > uint64(capacity) {
		return failf(C.MMSB_ERR_BUFFER_TOO_SMALL, "mmsb: the metadata holds %d entries; the array holds %d", len(spans), uint64(capacity))
	}
	if len(spans) == 0 {
		return C.MMSB_OK
	}
	if st := checkSpan("entries", unsafe.Pointer(entries), uint64(len(spans)), unsafe.Sizeof(*entries)); st != C.MMSB_OK {
		return st
	}
	out := unsafe.Slice(entries, len(spans))
	base := unsafe.Pointer(meta)
	for i, s := range spans {
		out[i] = C.mmsb_meta_entry{
			key:       (*C.char)(unsafe.Add(base, s.keyOff)),
			key_len:   C.size_t(s.keyLen),
			value:     (*C.uint8_t)(unsafe.Add(base, s.valOff)),
			value_len: C.size_t(s.valLen),
		}
	}
	return C.MMSB_OK
}

//export mmsb_set_metadata
func mmsb_set_metadata(h C.mmsb_bus, pg C.uint64_t, meta *C.mmsb_meta_entry, metaN C.size_t) (st C.int) {
	defer recoverStatus(&st)
	b, entries, st := busMeta(h, meta, metaN)
	if st != C.MMSB_OK {
		return st
	}
	if err := b.SetMetadata(context.Background(), mmsb.PageID(pg), entries); err != nil {
		return fail(err)
	}
	return C.MMSB_OK
}

//export mmsb_create_pages_meta
func mmsb_create_pages_meta(h C.mmsb_bus, ids *C.uint64_t, sizes *C.uint32_t, n C.size_t, meta *C.mmsb_meta_entry, metaN C.size_t, outIDs *C.uint64_t) (st C.int) {
	defer recoverStatus(&st)
	b, entries, st := busMeta(h, meta, metaN)
	if st != C.MMSB_OK {
		return st
	}
	// Only for a count createPages takes (it names a bad one).
	if n > 0 && n <= maxCreatePages {
		if err := checkCreateMeta(uint64(n), uint64(len(page.AppendMeta(nil, metaIn(entries))))); err != nil {
			return fail(err)
		}
	}
	return createPages(b, ids, sizes, n, entries, outIDs)
}
