package main

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
)

// metaSeeds are encodings at the decoder's edges: valid (one and several
// entries, empty keys and values, a NUL in a key set from Go) and not (cut
// in the count, a key or a value; a zero count; a count past the bytes;
// trailing bytes; lengths of 2^32-1).
var metaSeeds = [][]byte{
	nil,
	page.AppendMeta(nil, []page.MetaEntry{{Key: "example", Value: []byte("python-reader signal")}, {Key: "mmsb.type", Value: []byte("f64")}}),
	page.AppendMeta(nil, []page.MetaEntry{{Key: "", Value: nil}}),
	page.AppendMeta(nil, []page.MetaEntry{{Key: "a\x00b", Value: []byte{0}}}),
	{1, 0, 0},
	{0, 0, 0, 0},
	{2, 0, 0, 0, 1, 0, 0, 0, 'k', 0, 0, 0, 0},
	{1, 0, 0, 0, 1, 0, 0, 0, 'k', 0, 0, 0, 0, 9},
	{1, 0, 0, 0, 9, 0, 0, 0, 'k', 0, 0, 0, 0},
	{1, 0, 0, 0, 3, 0, 0, 0, 'k', 'e', 'y', 0, 0},
	{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},
	{1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
	{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0},
}

// checkSpans: decodeMetaSpans accepts exactly what page.DecodeMeta does (the
// bus's decoder, for the log and checkpoints), and its spans name the same
// entries, in order, within src.
func checkSpans(t *testing.T, src []byte) {
	spans, err := decodeMetaSpans(nil, src)
	want, werr := page.DecodeMeta(src)
	if (err == nil) != (werr == nil) {
		t.Fatalf("% x: decodeMetaSpans error %v, page.DecodeMeta error %v", src, err, werr)
	}
	if err != nil {
		if !errors.Is(err, errMetaArgument) || !strings.Contains(err.Error(), werr.Error()) {
			t.Fatalf("% x: error %q is not errMetaArgument naming %q", src, err, werr)
		}
		return
	}
	if len(spans) != len(want) {
		t.Fatalf("% x: %d spans, want %d entries", src, len(spans), len(want))
	}
	for i, s := range spans {
		if s.keyOff < 0 || s.keyOff+s.keyLen > len(src) || s.valOff < 0 || s.valOff+s.valLen > len(src) {
			t.Fatalf("% x: span %d %+v outside the %d bytes", src, i, s, len(src))
		}
		if k, v := string(src[s.keyOff:s.keyOff+s.keyLen]), src[s.valOff:s.valOff+s.valLen]; k != want[i].Key || !bytes.Equal(v, want[i].Value) {
			t.Fatalf("% x: entry %d is %q=%q, want %q=%q", src, i, k, v, want[i].Key, want[i].Value)
		}
	}
}

// TestDecodeMetaSpansEdges: the seeds, as a table (the fuzzer's corpus).
func TestDecodeMetaSpansEdges(t *testing.T) {
	for _, src := range metaSeeds {
		checkSpans(t, src)
	}
	// Over 64 KiB: refused whatever the bytes.
	big := page.AppendMeta(nil, []page.MetaEntry{{Key: "k", Value: make([]byte, maxMetaBytes)}})
	if _, err := decodeMetaSpans(nil, big); !errors.Is(err, errMetaArgument) || !strings.Contains(err.Error(), "limit 65536") {
		t.Fatalf("%d bytes: error %v, want errMetaArgument naming the limit", len(big), err)
	}
}

// FuzzDecodeMetaSpans: any bytes, never a panic, and the same verdict and
// entries as the bus's own decoder.
func FuzzDecodeMetaSpans(f *testing.F) {
	for _, s := range metaSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) { checkSpans(t, src) })
}

// TestMetaBuilderRefusals: entries a C caller gets wrong are refused with
// the error and message that name them, before their bytes are read (the
// lengths here point at one byte or at nothing: a read would fault or be
// caught by the race detector's checkptr), and good ones are copied.
func TestMetaBuilderRefusals(t *testing.T) {
	one := []byte{'k'}
	p := unsafe.Pointer(&one[0])
	for _, tc := range []struct {
		name   string
		key    unsafe.Pointer
		keyLen uint64
		val    unsafe.Pointer
		valLen uint64
		want   error
		msg    string
	}{
		{"nul key", unsafe.Pointer(unsafe.StringData("a\x00")), 2, nil, 0, errMetaArgument, `key "a" has a NUL byte at offset 1`},
		{"null key", nil, 1, nil, 0, errMetaArgument, "entry 0 has key_len 1 and a NULL key"},
		{"null value", p, 1, nil, 1, errMetaArgument, "entry 0 has value_len 1 and a NULL value"},
		{"huge value", p, 1, p, math.MaxUint64, mmsb.ErrInvalidPage, "past 65536 bytes"},
		{"huge key", p, math.MaxUint64, p, 1, mmsb.ErrInvalidPage, "past 65536 bytes"},
		{"one past", p, 1, p, maxMetaBytes - 12, mmsb.ErrInvalidPage, "value_len 65524"},
		{"sum wraps", p, maxMetaBytes, p, maxMetaBytes, mmsb.ErrInvalidPage, "past 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m metaBuilder
			err := m.add(0, tc.key, tc.keyLen, tc.val, tc.valLen)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v naming %q", err, tc.want, tc.msg)
			}
		})
	}
	if err := checkMetaCount(maxMetaEntries+1, false); !errors.Is(err, mmsb.ErrInvalidPage) || !strings.Contains(err.Error(), "8192 metadata entries, at most 8191") {
		t.Fatalf("8192 entries: %v", err)
	}
	if err := checkMetaCount(1, true); !errors.Is(err, errMetaArgument) {
		t.Fatalf("NULL meta with 1 entry: %v", err)
	}
	if err := checkMetaCount(maxMetaEntries, false); err != nil {
		t.Fatalf("%d entries: %v", maxMetaEntries, err)
	}
	// The largest encoding, and an empty key and value, are taken (copied).
	val := make([]byte, maxMetaBytes-13)
	var m metaBuilder
	if err := m.add(0, p, 1, unsafe.Pointer(&val[0]), uint64(len(val))); err != nil {
		t.Fatal(err)
	}
	if err := m.add(1, nil, 0, nil, 0); !errors.Is(err, mmsb.ErrInvalidPage) {
		t.Fatalf("a second entry past the full encoding: %v", err)
	}
	m = metaBuilder{}
	if err := m.add(0, nil, 0, nil, 0); err != nil || len(m.entries) != 1 || m.entries[0].Key != "" {
		t.Fatalf("empty key and value: %v %+v", err, m.entries)
	}
	val[0] = 'x'
	if err := m.add(1, p, 1, unsafe.Pointer(&val[0]), 1); err != nil {
		t.Fatal(err)
	}
	val[0] = 'y'
	if got := m.entries[1].Value[0]; got != 'x' {
		t.Fatalf("value not copied: %q after the caller's buffer changed", got)
	}
}

// TestCheckCreateMeta: a creation whose metadata copies alone pass a log
// record (256 MiB) is refused with ErrRecordTooLarge before the bus makes
// them: 2^24 pages (mmsb_create_pages' bound) with 64 KiB each would ask
// the bus for a terabyte (CreatePages encodes every page's copy before it
// measures the record), an out-of-memory that kills the host process. Up
// to the record's size it is left to the bus. Control (the check always
// passing): "16777216 pages with 65536 bytes of metadata: <nil>, want
// refused true".
func TestCheckCreateMeta(t *testing.T) {
	for _, tc := range []struct {
		n, meta uint64
		refused bool
	}{
		{1 << 24, maxMetaBytes, true},
		{4097, maxMetaBytes, true},
		{4096, maxMetaBytes, false}, // exactly 256 MiB
		{1 << 24, 16, false},
		{1 << 24, 17, true},
		{1 << 24, 0, false},
		{math.MaxUint64, 1, true},
	} {
		err := checkCreateMeta(tc.n, tc.meta)
		if got := err != nil; got != tc.refused || (got && !errors.Is(err, mmsb.ErrRecordTooLarge)) {
			t.Errorf("%d pages with %d bytes of metadata: %v, want refused %v (ErrRecordTooLarge)", tc.n, tc.meta, err, tc.refused)
		}
	}
	if err := checkCreateMeta(1<<24, maxMetaBytes); err == nil || !strings.Contains(err.Error(), "16777216 pages with 65536 bytes of metadata each") {
		t.Fatalf("message %v does not name the count and the size", err)
	}
}
