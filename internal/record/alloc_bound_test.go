package record

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
)

// TestDecodersRefuseCountsBeforeAllocating: every decoder of this package,
// given a few bytes whose count or length field claims 2^40 elements or
// bytes, refuses them with ErrMalformed naming the field (delta.ErrMalformed
// for a delta's own fields), and allocates no more than the error's text:
// each count is checked against the bytes left before anything is
// appended, so a ten-byte record cannot make a decoder reserve gigabytes.
func TestDecodersRefuseCountsBeforeAllocating(t *testing.T) {
	const huge = 1 << 40
	hdr := AppendHeader(nil, 5)
	wave := AppendWaveHeader(nil, 5)
	batch := func(head []byte, kind OpKind, vs ...uint64) []byte {
		return uv(append(bytes.Clone(head), byte(kind)), vs...)
	}
	next := func(payload []byte) error {
		var dec Decoder
		if err := dec.Reset(payload); err != nil {
			return err
		}
		var op Op
		return dec.Next(&op)
	}
	pageRec := func(vs ...uint64) []byte { // ID 1, size 64, location, flags, then vs
		return uv(append(uv(nil, 1, 64), byte(base.LocationCPU), 0), vs...)
	}
	for _, c := range []struct {
		name   string
		decode func() error
		sentry error
		want   string
	}{
		{"derived: parent-read count", func() error { return next(batch(hdr, OpDerived, huge, 1, 2)) }, ErrMalformed,
			"1099511627776 parent reads exceed payload"},
		{"bind: parent count", func() error { return next(batch(hdr, OpBind, 7, 0, 0, huge, 1)) }, ErrMalformed,
			"1099511627776 parents exceed payload"},
		{"bind: name length", func() error { return next(batch(hdr, OpBind, 7, huge, 'f')) }, ErrMalformed,
			"length 1099511627776 exceeds payload"},
		{"meta: metadata length", func() error { return next(batch(hdr, OpSetMeta, 7, huge, 1)) }, ErrMalformed,
			"length 1099511627776 exceeds payload"},
		{"create: metadata length", func() error { return next(uv(append(batch(hdr, OpCreatePage, 7, 64), 0), huge, 1)) },
			ErrMalformed, "length 1099511627776 exceeds payload"},
		{"wave: dirty count", func() error { return next(batch(wave, OpWave, huge, 1)) }, ErrMalformed,
			"dirty page set declares 1099511627776 page IDs"},
		{"wave: held-back count", func() error { return next(batch(wave, OpWave, 0, huge, 1)) }, ErrMalformed,
			"held-back page set declares 1099511627776 page IDs"},
		{"delta: run count", func() error { return next(batch(hdr, OpDelta, 7, 0, huge, 0, 1)) }, delta.ErrMalformed,
			"run count 1099511627776 exceeds"},
		{"delta: run length", func() error { return next(batch(hdr, OpDelta, 7, 0, 1, 0, huge, 1)) }, delta.ErrMalformed,
			"run data of 1099511627776 bytes"},
		{"delta: mask length", func() error { return next(batch(hdr, OpDelta, 7, 1, 1<<32-1, 1)) }, delta.ErrMalformed,
			"mask of 536870912 bytes"},
		{"delta: intent length", func() error { return next(batch(hdr, OpDelta, 7, 0x10, 1, 0, 1, 9, huge, 1)) }, delta.ErrMalformed,
			"intent of 1099511627776 bytes"},
		{"delta: source length", func() error { return next(batch(hdr, OpDelta, 7, 0x08, 1, 0, 1, 9, huge, 1)) }, delta.ErrMalformed,
			"source of 1099511627768 bytes"},
		{"pending: count", func() error { _, err := DecodePending(uv(nil, MaxPendingPerRecord, 1, 1), nil); return err }, ErrMalformed,
			"page set declares 65536 page IDs in 2 bytes"},
		{"pending: count past the record limit", func() error { _, err := DecodePending(uv(nil, huge, 1), nil); return err }, ErrMalformed,
			"page set holds 1099511627776 page IDs"},
		{"page: metadata length", func() error { var p PageImage; return DecodePage(pageRec(1, 1, huge, 1), &p) }, ErrMalformed,
			"length 1099511627776 exceeds payload"},
		{"page: stored bytes", func() error { var p PageImage; return DecodePage(pageRec(1, 1, 0, 0, huge), &p) }, ErrMalformed,
			"stores 1099511627776 bytes at offset 0, beyond its size 64"},
		{"page: stored bytes within the size", func() error { var p PageImage; return DecodePage(pageRec(1, 1, 0, 0, 64, 1), &p) }, ErrMalformed,
			"page 1 has 1 data bytes, want 64"},
		{"binding record: parent count", func() error { var op Op; return DecodeOne(uv([]byte{byte(OpBind)}, 7, 0, 0, huge, 1), OpBind, &op) },
			ErrMalformed, "1099511627776 parents exceed payload"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.decode()
			if !errors.Is(err, c.sentry) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("decode = %v, want %v naming %q", err, c.sentry, c.want)
			}
			const runs = 64
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range runs {
				_ = c.decode()
			}
			runtime.ReadMemStats(&after)
			// The error's text and the test's own bytes: well under a
			// kilobyte; a count believed costs at least 8 bytes per element.
			if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 4<<10 {
				t.Fatalf("a refused decode allocated %d bytes", per)
			}
		})
	}
}
