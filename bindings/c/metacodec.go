package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// Page metadata across the C ABI (ABI 1.2). A caller reads a page's
// metadata as its encoded form (mmsb_page_meta: the bytes docs/page.md
// documents, u32 count then per entry u32 key length, key, u32 value
// length, value, little-endian) and splits it with mmsb_meta_decode into
// mmsb_meta_entry views pointing into that buffer; it sets metadata as an
// array of mmsb_meta_entry (pointer and length per key and value). The
// checks are here, free of cgo, so that Go tests and the fuzzer reach them.

// maxMetaBytes is the largest encoded metadata of one page (64 KiB).
const maxMetaBytes = page.MaxMetaBytes

// maxMetaEntries is the most entries an encoding within maxMetaBytes holds:
// the count takes 4 bytes and every entry at least its two 4-byte lengths.
const maxMetaEntries = (maxMetaBytes - 4) / 8

// errMetaArgument marks a caller's mistake in metadata passed in or asked
// to be decoded (a NULL pointer with a length, a NUL in a key, bytes that
// are not an encoding): MMSB_ERR_INVALID_ARGUMENT. Metadata too large for
// a page is the Go API's ErrInvalidPage instead (MMSB_ERR_INVALID_PAGE).
var errMetaArgument = errors.New("mmsb: invalid metadata argument")

// metaSpan locates one decoded entry in its encoding: key src[keyOff:
// keyOff+keyLen], value src[valOff:valOff+valLen].
type metaSpan struct {
	keyOff, keyLen, valOff, valLen int
}

// decodeMetaSpans splits an encoding into its entries' offsets, appended
// to dst. It accepts exactly what the bus's own decoder (page.DecodeMeta)
// accepts, with its messages, so that a C caller decoding the bytes of
// mmsb_page_meta never disagrees with the log and checkpoints. Empty src
// is no entries. Never panics.
func decodeMetaSpans(dst []metaSpan, src []byte) ([]metaSpan, error) {
	if len(src) == 0 {
		return dst, nil
	}
	// src is the C caller's memory, which another of its threads may
	// change while we read it: check and walk one copy, so that the
	// offsets found are those the check accepted (each within len(src)).
	src = bytes.Clone(src)
	if _, err := page.DecodeMeta(src); err != nil {
		return dst, fmt.Errorf("%w: %d bytes are not a metadata encoding: %w", errMetaArgument, len(src), err)
	}
	// Valid: every length below is within src (DecodeMeta checked each).
	n := binary.LittleEndian.Uint32(src)
	off := 4
	for range n {
		kl := int(binary.LittleEndian.Uint32(src[off:]))
		ko := off + 4
		vl := int(binary.LittleEndian.Uint32(src[ko+kl:]))
		vo := ko + kl + 4
		dst = append(dst, metaSpan{keyOff: ko, keyLen: kl, valOff: vo, valLen: vl})
		off = vo + vl
	}
	return dst, nil
}

// metaBuilder gathers the entries a C caller passes in, checking each
// before its bytes are read: a length that cannot fit in a page's
// metadata is refused before a slice of it is made (on a 32-bit platform
// a length of 2 GiB or more would be a negative int, on which unsafe.Slice
// panics), and so is a running total over maxMetaBytes.
type metaBuilder struct {
	entries []mmsb.MetaEntry
	size    uint64 // encoded size so far (count included)
}

// checkMetaCount checks the number of entries of one call before any is read.
func checkMetaCount(n uint64, entriesNil bool) error {
	if n > maxMetaEntries {
		return fmt.Errorf("%w: %d metadata entries, at most %d fit in a page's %d bytes of metadata (each takes 8 bytes and its key and value); nothing was changed",
			mmsb.ErrInvalidPage, n, maxMetaEntries, maxMetaBytes)
	}
	if n > 0 && entriesNil {
		return fmt.Errorf("%w: meta is NULL with %d entries", errMetaArgument, n)
	}
	return nil
}

// add appends entry i, whose key is keyLen bytes at key and value valLen
// bytes at val. The key must hold no NUL byte: C callers handle keys as
// strings, and one cut at a NUL would name another key.
func (m *metaBuilder) add(i int, key unsafe.Pointer, keyLen uint64, val unsafe.Pointer, valLen uint64) error {
	if m.size == 0 {
		m.size = 4
	}
	switch {
	case key == nil && keyLen > 0:
		return fmt.Errorf("%w: entry %d has key_len %d and a NULL key", errMetaArgument, i, keyLen)
	case val == nil && valLen > 0:
		return fmt.Errorf("%w: entry %d has value_len %d and a NULL value", errMetaArgument, i, valLen)
	case keyLen > maxMetaBytes || valLen > maxMetaBytes || m.size+8+keyLen+valLen > maxMetaBytes:
		return fmt.Errorf("%w: metadata entry %d (key_len %d, value_len %d) takes the encoding past %d bytes, the most a page holds; nothing was changed",
			mmsb.ErrInvalidPage, i, keyLen, valLen, maxMetaBytes)
	}
	m.size += 8 + keyLen + valLen
	switch {
	case !spanFits(uintptr(key), keyLen, 1):
		return fmt.Errorf("%w: entry %d: key_len %d at %#x would pass the end of the address space", errMetaArgument, i, keyLen, uintptr(key))
	case !spanFits(uintptr(val), valLen, 1):
		return fmt.Errorf("%w: entry %d: value_len %d at %#x would pass the end of the address space", errMetaArgument, i, valLen, uintptr(val))
	}
	var k, v []byte
	if keyLen > 0 {
		k = unsafe.Slice((*byte)(key), int(keyLen))
	}
	if valLen > 0 {
		v = unsafe.Slice((*byte)(val), int(valLen))
	}
	if j := bytes.IndexByte(k, 0); j >= 0 {
		return fmt.Errorf("%w: entry %d: key %q has a NUL byte at offset %d (keys from C are NUL-free)", errMetaArgument, i, k[:j], j)
	}
	// Copied: the bus keeps the value (the log encodes it at once, but the
	// caller's memory must not be reachable from Go after the call).
	m.entries = append(m.entries, mmsb.MetaEntry{Key: string(k), Value: bytes.Clone(v)})
	return nil
}

// checkCreateMeta refuses a creation of n pages that each carry metadata
// of metaBytes encoded bytes when the copies alone pass what one log
// record holds: the bus encodes one copy per page before it measures the
// record, so 2^24 pages (mmsb_create_pages' bound) with 64 KiB of metadata
// (its own bound) asked for a terabyte, and the Go runtime's out-of-memory
// error ends the host process; no status can come back from that.
func checkCreateMeta(n, metaBytes uint64) error {
	if metaBytes == 0 || n <= uint64(tlog.MaxRecordBytes)/metaBytes {
		return nil
	}
	return fmt.Errorf("%w: %d pages with %d bytes of metadata each, more than a log record holds (%d bytes); nothing was created: create fewer pages per call",
		mmsb.ErrRecordTooLarge, n, metaBytes, tlog.MaxRecordBytes)
}
