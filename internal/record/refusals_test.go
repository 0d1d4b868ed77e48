package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// The decoders' refusals, one row per check: each input is a valid
// encoding with one field broken, and each row fails if the check that
// refuses it is removed (the mutation review of 2026-12-06 removed each
// check in turn; these are the ones no other test noticed).

// uv appends uvarints.
func uv(dst []byte, vs ...uint64) []byte {
	for _, v := range vs {
		dst = binary.AppendUvarint(dst, v)
	}
	return dst
}

// TestBatchRefusals: Reset and Next refuse every broken batch field with
// ErrMalformed (and an error naming it), never a panic, and never decode a
// field the payload does not hold as zero.
func TestBatchRefusals(t *testing.T) {
	hdr := AppendHeader(nil, 5)
	// An overlong varint: ten continuation bytes overflow 64 bits.
	overflow := bytes.Repeat([]byte{0xff}, 10)
	cases := []struct {
		name    string
		payload []byte
		reset   bool   // Reset (not Next) must refuse it
		want    string // in the error
	}{
		{"commit time missing", []byte{FormatVersion}, true, "bad commit time"},
		{"commit time overflows", append([]byte{FormatVersion}, append(overflow, 1)...), true, "bad commit time"},
		{"no operation at the end", hdr, false, "no operation at offset"},
		{"free: page ID missing", append(bytes.Clone(hdr), byte(OpFreePage)), false, "bad varint"},
		{"free: page ID overflows", append(append(bytes.Clone(hdr), byte(OpFreePage)), append(overflow, 1)...), false, "bad varint"},
		{"unbind: page ID missing", append(bytes.Clone(hdr), byte(OpUnbind)), false, "bad varint"},
		{"create: size past MaxPageSize", AppendCreate(bytes.Clone(hdr), 7, base.MaxPageSize+1, base.LocationCPU, nil), false,
			"page size 16777217 too large"},
		{"create: size past 32 bits", uv(append(bytes.Clone(hdr), byte(OpCreatePage)), 7, 1<<32+8, 0, 0), false,
			"page size 4294967304 too large"},
		{"derived: more parent reads than bytes", uv(append(bytes.Clone(hdr), byte(OpDerived)), 1000, 1, 2), false,
			"1000 parent reads exceed payload"},
		{"bind: more parents than bytes", uv(append(append(bytes.Clone(hdr), byte(OpBind)), 7, 1, 'f', 0), 1000, 1, 2), false,
			"1000 parents exceed payload"},
		{"bind: name longer than payload", uv(append(bytes.Clone(hdr), byte(OpBind)), 7, 50, 'f'), false, "length 50 exceeds payload"},
		{"flags: flag byte missing", uv(append(bytes.Clone(hdr), byte(OpSetFlags)), 7), false, "truncated at offset"},
		{"unknown op kind", append(bytes.Clone(hdr), 12), false, "unknown op kind 12"},
		{"wave in a version 1 payload", AppendWave(bytes.Clone(hdr), nil, nil), false, "operation kind 11 (wave) in a version 1 payload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dec Decoder
			err := dec.Reset(c.payload)
			if c.reset {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Reset(%x) = %v, want ErrMalformed naming %q", c.payload, err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Reset: %v", err)
			}
			var op Op
			err = dec.Next(&op)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Next on %x = %v (op %+v), want ErrMalformed naming %q", c.payload, err, op, c.want)
			}
		})
	}
}

// TestCheckpointRecordRefusals: the checkpoint record decoders refuse each
// broken field.
func TestCheckpointRecordRefusals(t *testing.T) {
	state := AppendState(nil, &State{LastLSN: 42, NextID: 9, LastTime: -5, Pages: 3, Edges: 2, Bindings: 1})
	// A page record field by field: id, size, location, flags, epoch,
	// LSN, meta (length 0), start, stored, then the stored bytes.
	page := func(size, start, stored uint64) []byte {
		b := uv(nil, 3, size)
		b = append(b, byte(base.LocationCPU), 0)
		b = uv(b, 1, 2, 0, start, stored)
		return append(b, bytes.Repeat([]byte{7}, int(min(stored, 64)))...)
	}
	if err := DecodePage(page(8, 2, 3), new(PageImage)); err != nil {
		t.Fatalf("the test's own page record: %v", err)
	}
	edge := AppendEdge(nil, OpAddEdge, 1, 2, 0)
	cases := []struct {
		name   string
		decode func() error
		want   string
	}{
		{"state: version", func() error {
			b := bytes.Clone(state)
			b[0] = FormatVersion + 1
			_, err := DecodeState(b)
			return err
		}, "bad checkpoint state version"},
		{"state: time overflows", func() error {
			// version, LSN, next ID, then an overlong time varint.
			b := append(uv([]byte{FormatVersion}, 42, 9), bytes.Repeat([]byte{0xff}, 10)...)
			_, err := DecodeState(uv(append(b, 1), 3, 2, 1))
			return err
		}, "bad checkpoint state time"},
		{"page: size 0", func() error { return DecodePage(page(0, 0, 0), new(PageImage)) }, "size 0"},
		{"page: size past MaxPageSize", func() error { return DecodePage(page(base.MaxPageSize+1, 0, 1), new(PageImage)) },
			"size 16777217"},
		{"page: start past size", func() error { return DecodePage(page(8, 9, 0), new(PageImage)) }, "at offset 9, beyond its size 8"},
		{"page: stored past size", func() error { return DecodePage(page(8, 7, 2), new(PageImage)) }, "stores 2 bytes at offset 7"},
		{"pending: no IDs", func() error { _, err := DecodePending(uv(nil, 0), nil); return err }, "holds 0 page IDs"},
		{"pending: too many IDs", func() error {
			b := uv(nil, MaxPendingPerRecord+1, 1)
			b = append(b, bytes.Repeat([]byte{1}, MaxPendingPerRecord)...)
			_, err := DecodePending(b, nil)
			return err
		}, "holds 65537 page IDs, want 1 to 65536"},
		{"pending: zero gap", func() error { _, err := DecodePending(uv(nil, 2, 5, 0), nil); return err }, "gap 0 after page ID 5"},
		{"pending: gap overflows", func() error { _, err := DecodePending(uv(nil, 2, 5, math.MaxUint64-4), nil); return err },
			"gap 18446744073709551611 after page ID 5"},
		{"pending: trailing byte", func() error { _, err := DecodePending(uv(nil, 2, 5, 1, 1), nil); return err },
			"1 bytes after the page set"},
		{"one op: trailing byte", func() error { return DecodeOne(append(bytes.Clone(edge), 0), OpAddEdge, new(Op)) },
			"holds add-edge, want one add-edge"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.decode()
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v, want ErrMalformed naming %q", err, c.want)
			}
		})
	}

	// A count the payload cannot hold is refused before anything is
	// appended (a decoder without that check appended the IDs it found).
	dst := []base.PageID{99}
	got, err := DecodePending(uv(nil, 5, 1, 1), dst)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "declares 5 page IDs in 2 bytes") || len(got) != 1 {
		t.Fatalf("pending count past the payload: %v, %v; want ErrMalformed and dst unchanged", got, err)
	}
}
