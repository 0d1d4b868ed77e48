package page

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// metaDedupMap is the entry count above which SetMeta deduplicates keys
// with a map instead of a quadratic scan (metadata is usually a handful of
// entries, where the scan is faster and allocation-free).
const metaDedupMap = 16

// encodedMetaSize returns len(AppendMeta(nil, entries)).
func encodedMetaSize(entries []MetaEntry) int {
	if len(entries) == 0 {
		return 0
	}
	n := 4
	for _, e := range entries {
		n += 8 + len(e.Key) + len(e.Value)
	}
	return n
}

// Meta returns the page's metadata entries (shared; do not modify). It
// returns nil for a page without metadata.
func (s *Store) Meta(sl Slot) []MetaEntry { return s.meta[sl] }

// SetMeta replaces the page's metadata (copied). Encoded size must be
// <= MaxMetaBytes. Keys are kept in the given order; duplicate keys: last wins.
//
// Precisely: each key keeps the position of its first occurrence and takes
// the value of its last one; the size limit applies to the deduplicated
// list. An empty list removes the page's metadata.
func (s *Store) SetMeta(sl Slot, entries []MetaEntry) error {
	id := s.ID(sl)
	if s.cell(sl).size == 0 {
		return fmt.Errorf("%w: slot %d holds no page", ErrNotFound, sl)
	}
	// order[i] is the index in entries of the value the i-th distinct key takes.
	order := make([]int, 0, len(entries))
	if len(entries) <= metaDedupMap {
	scan:
		for i, e := range entries {
			for j, k := range order {
				if entries[k].Key == e.Key {
					order[j] = i
					continue scan
				}
			}
			order = append(order, i)
		}
	} else {
		pos := make(map[string]int, len(entries))
		for i, e := range entries {
			if j, ok := pos[e.Key]; ok {
				order[j] = i
				continue
			}
			pos[e.Key] = len(order)
			order = append(order, i)
		}
	}
	size, keyBytes, valBytes := 0, 0, 0
	if len(order) > 0 {
		size = 4
	}
	for _, i := range order {
		keyBytes += len(entries[i].Key)
		valBytes += len(entries[i].Value)
		size += 8 + len(entries[i].Key) + len(entries[i].Value)
		if size > MaxMetaBytes {
			// Checked as we go so absurd inputs cannot overflow the sum.
			return fmt.Errorf("%w: page %d: encoding exceeds %d bytes", ErrMetaTooLarge, id, MaxMetaBytes)
		}
	}
	if old, ok := s.meta[sl]; ok {
		s.kvBytes -= int64(encodedMetaSize(old))
		delete(s.meta, sl)
	}
	if len(order) == 0 {
		return nil
	}
	// One allocation for all keys and one for all values: the copy owns its
	// bytes, pins no caller memory, and costs three allocations in total.
	var kb strings.Builder
	kb.Grow(keyBytes)
	for _, i := range order {
		kb.WriteString(entries[i].Key)
	}
	keys := kb.String()
	vals := make([]byte, 0, valBytes)
	out := make([]MetaEntry, len(order))
	ko := 0
	for j, i := range order {
		e := entries[i]
		vo := len(vals)
		vals = append(vals, e.Value...)
		out[j] = MetaEntry{Key: keys[ko : ko+len(e.Key)], Value: vals[vo:len(vals):len(vals)]}
		ko += len(e.Key)
	}
	if s.meta == nil {
		s.meta = make(map[Slot][]MetaEntry)
	}
	s.meta[sl] = out
	s.kvBytes += int64(size)
	return nil
}

// AppendMeta appends the metadata encoding (u32 count, then per entry u32 key
// length, key, u32 value length, value; empty when there are no entries) to dst.
// All integers are little-endian. Entries are encoded as given; the store's
// own lists never hold duplicate keys.
func AppendMeta(dst []byte, entries []MetaEntry) []byte {
	if len(entries) == 0 {
		return dst
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(entries)))
	for _, e := range entries {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e.Key)))
		dst = append(dst, e.Key...)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e.Value)))
		dst = append(dst, e.Value...)
	}
	return dst
}

// DecodeMeta decodes AppendMeta's encoding. Never panics.
//
// An empty input decodes to nil. The result owns its memory (src may be
// reused). It rejects, with ErrBadMeta, truncated or trailing bytes and a
// zero count (zero entries are encoded as nothing, so the encoding of a list
// is unique); inputs longer than MaxMetaBytes fail with ErrMetaTooLarge.
func DecodeMeta(src []byte) ([]MetaEntry, error) {
	if len(src) == 0 {
		return nil, nil
	}
	if len(src) > MaxMetaBytes {
		return nil, fmt.Errorf("%w: encoding is %d bytes, limit %d", ErrMetaTooLarge, len(src), MaxMetaBytes)
	}
	if len(src) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, need 4 for the count", ErrBadMeta, len(src))
	}
	n := binary.LittleEndian.Uint32(src)
	if n == 0 {
		return nil, fmt.Errorf("%w: zero entry count (an empty list is encoded as no bytes)", ErrBadMeta)
	}
	// Every entry needs at least its two length fields; checking this first
	// bounds the allocation below by the input size.
	if uint64(n) > uint64(len(src)-4)/8 {
		return nil, fmt.Errorf("%w: count %d does not fit in %d bytes", ErrBadMeta, n, len(src))
	}
	// Keys are substrings of one string copy and values sub-slices of one
	// byte copy of the input: three allocations however many entries.
	keys := string(src)
	vals := make([]byte, len(src))
	copy(vals, src)
	out := make([]MetaEntry, n)
	off := 4
	field := func(i uint32, what string) (int, int, error) {
		if len(src)-off < 4 {
			return 0, 0, fmt.Errorf("%w: entry %d: %s length truncated at offset %d", ErrBadMeta, i, what, off)
		}
		l := binary.LittleEndian.Uint32(src[off:])
		off += 4
		if uint64(l) > uint64(len(src)-off) {
			return 0, 0, fmt.Errorf("%w: entry %d: %s length %d at offset %d exceeds the %d bytes left",
				ErrBadMeta, i, what, l, off-4, len(src)-off)
		}
		start := off
		off += int(l)
		return start, off, nil
	}
	for i := range n {
		ks, ke, err := field(i, "key")
		if err != nil {
			return nil, err
		}
		vs, ve, err := field(i, "value")
		if err != nil {
			return nil, err
		}
		out[i] = MetaEntry{Key: keys[ks:ke], Value: vals[vs:ve:ve]}
	}
	if off != len(src) {
		return nil, fmt.Errorf("%w: %d trailing bytes after %d entries", ErrBadMeta, len(src)-off, n)
	}
	return out, nil
}

// MetaEqual reports whether two pages' metadata are the same entries, in
// the same order, with the same values.
func MetaEqual(a, b []MetaEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}
