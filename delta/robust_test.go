package delta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"
)

// TestApplyRefusesWhatDoesNotFit gives Apply hand-built deltas that do not
// fit an 8-byte page. Each must be refused with Validate's sentinel and
// leave the page as it was. Before Apply returned an error it panicked on
// the rows marked "panicked" (slice bounds out of range) and wrote part of
// the delta, or silently ignored what did not fit, on the others.
func TestApplyRefusesWhatDoesNotFit(t *testing.T) {
	const size = 8
	for _, tc := range []struct {
		name string
		d    Delta
		want error // Apply's error
		// validate is Validate's sentinel when it differs from want: Apply
		// does not refuse a delta for writing nothing, Validate does.
		validate error
	}{
		{"one run past the page", Delta{Runs: []Run{{Offset: 6, Data: seq(1, 3)}}}, ErrOutOfRange, nil},
		{"second run past the page (wrote the first)", Delta{Runs: []Run{{Offset: 0, Data: seq(1, 2)}, {Offset: 7, Data: seq(1, 2)}}}, ErrOutOfRange, nil},
		{"run near 2^32", Delta{Runs: []Run{{Offset: 1, Data: seq(1, 1)}, {Offset: 1<<32 - 1, Data: seq(1, 2)}}}, ErrOutOfRange, nil},
		{"empty run past the page", Delta{Runs: []Run{{Offset: 9}}}, ErrOutOfRange, ErrEmpty},
		{"dense MaskLen past the page (panicked)", Delta{Form: FormMaskedDense, MaskLen: 16, Mask: []byte{0, 0x80}, Payload: seq(1, 16)}, ErrOutOfRange, nil},
		{"dense MaskLen past the page, bits clear there", Delta{Form: FormMaskedDense, MaskLen: 16, Mask: []byte{1, 0}, Payload: seq(1, 16)}, ErrOutOfRange, nil},
		{"sparse MaskLen far past the page", Delta{Form: FormMaskedSparse, MaskLen: 1 << 20, Mask: make([]byte, 1<<17), Payload: nil}, ErrOutOfRange, nil},
		{"mask shorter than MaskLen", Delta{Form: FormMaskedDense, MaskLen: 8, Mask: nil, Payload: seq(1, 8)}, ErrSizeMismatch, nil},
		{"mask shorter than MaskLen near 2^32", Delta{Form: FormMaskedDense, MaskLen: 1<<32 - 1, Mask: []byte{0xff}, Payload: seq(1, 8)}, ErrSizeMismatch, nil},
		{"dense payload short (panicked)", Delta{Form: FormMaskedDense, MaskLen: 8, Mask: []byte{0x80}, Payload: seq(1, 4)}, ErrSizeMismatch, nil},
		{"dense payload long", Delta{Form: FormMaskedDense, MaskLen: 4, Mask: []byte{0x0f}, Payload: seq(1, 5)}, ErrSizeMismatch, nil},
		{"dense payload nil (panicked)", Delta{Form: FormMaskedDense, MaskLen: 8, Mask: []byte{1}}, ErrSizeMismatch, nil},
		{"sparse payload short (panicked)", Delta{Form: FormMaskedSparse, MaskLen: 8, Mask: []byte{0xff}, Payload: seq(1, 4)}, ErrSizeMismatch, nil},
		{"sparse payload long", Delta{Form: FormMaskedSparse, MaskLen: 8, Mask: []byte{0x03}, Payload: seq(1, 3)}, ErrSizeMismatch, nil},
		{"sparse payload counts bits past MaskLen", Delta{Form: FormMaskedSparse, MaskLen: 4, Mask: []byte{0xff}, Payload: seq(1, 8)}, ErrSizeMismatch, nil},
		{"masked, MaskLen 0, payload", Delta{Form: FormMaskedDense, Payload: seq(1, 1)}, ErrSizeMismatch, ErrEmpty},
		{"unknown form", Delta{Form: 3, Runs: []Run{{Offset: 0, Data: seq(1, 1)}}}, ErrMalformed, nil},
		{"unknown form 255", Delta{Form: 255, MaskLen: 1, Mask: []byte{1}, Payload: seq(1, 1)}, ErrMalformed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := seq(0xa0, size)
			err := Apply(&tc.d, page)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Apply = %v, want %v", err, tc.want)
			}
			if !bytes.Equal(page, seq(0xa0, size)) {
				t.Fatalf("Apply refused the delta but wrote the page: % x", page)
			}
			want := tc.validate
			if want == nil {
				want = tc.want
			}
			if verr := Validate(&tc.d, size); !errors.Is(verr, want) {
				t.Fatalf("Validate = %v, want %v", verr, want)
			}
		})
	}
}

// TestApplyWritesNothingForEmpty: a delta that writes nothing is not
// Apply's concern (Validate refuses it with ErrEmpty): it applies, as
// nothing, with a nil error.
func TestApplyWritesNothingForEmpty(t *testing.T) {
	for name, d := range map[string]Delta{
		"no runs":              {},
		"empty runs":           {Runs: []Run{{Offset: 3}, {Offset: 8}}},
		"MaskLen 0":            {Form: FormMaskedSparse},
		"no bit set":           {Form: FormMaskedSparse, MaskLen: 8, Mask: []byte{0}},
		"no bit below MaskLen": {Form: FormMaskedDense, MaskLen: 5, Mask: []byte{0xe0}, Payload: seq(1, 5)},
	} {
		page := seq(0xa0, 8)
		if err := Apply(&d, page); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !bytes.Equal(page, seq(0xa0, 8)) {
			t.Errorf("%s: wrote % x", name, page)
		}
		if err := Validate(&d, 8); !errors.Is(err, ErrEmpty) {
			t.Errorf("%s: Validate = %v, want ErrEmpty", name, err)
		}
	}
}

// TestRunsPastAddressSpace: runs reaching past 2^32 (which no page the bus
// holds can take, and no uint32 offset can name) are clipped there by the
// algebra and refused by Validate for any page size. Before, ToMaskedDense
// panicked (index out of range [536870910]), Normalize returned the runs
// [2^32-10,+15) and [5,+15) (unsorted, the second a wrapped tail), Ranges
// reported 30 bytes and Validate accepted them for any page over 2^32+20
// bytes.
func TestRunsPastAddressSpace(t *testing.T) {
	a, b := bytes.Repeat([]byte{'a'}, 30), bytes.Repeat([]byte{'b'}, 10)
	d := Delta{Page: 3, Runs: []Run{{Offset: 1<<32 - 10, Data: a}, {Offset: 1<<32 - 5, Data: b}}}
	if _, err := ToMaskedDense(&d, 100); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("ToMaskedDense = %v, want ErrOutOfRange", err)
	}
	if _, err := ToMaskedSparse(&d, 100); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("ToMaskedSparse = %v, want ErrOutOfRange", err)
	}
	n := Normalize(&d)
	want := []Run{{Offset: 1<<32 - 10, Data: []byte("aaaaabbbbb")}}
	if !slices.EqualFunc(n.Runs, want, func(x, y Run) bool { return x.Offset == y.Offset && bytes.Equal(x.Data, y.Data) }) {
		t.Fatalf("Normalize = %+v, want %+v", n.Runs, want)
	}
	var got [][2]uint32
	Ranges(&d, func(off, n uint32) { got = append(got, [2]uint32{off, n}) })
	if !slices.Equal(got, [][2]uint32{{1<<32 - 10, 10}}) {
		t.Fatalf("Ranges = %v", got)
	}
	sorted := Delta{Runs: []Run{{Offset: 1<<32 - 4, Data: a[:8]}}}
	got = got[:0]
	Ranges(&sorted, func(off, n uint32) { got = append(got, [2]uint32{off, n}) })
	if !slices.Equal(got, [][2]uint32{{1<<32 - 4, 4}}) || WrittenBytes(&sorted) != 4 {
		t.Fatalf("Ranges of a sorted run = %v, WrittenBytes %d", got, WrittenBytes(&sorted))
	}
	if WrittenBytes(&d) != 10 {
		t.Fatalf("WrittenBytes = %d, want 10", WrittenBytes(&d))
	}
	m, err := Merge(&d, &Delta{Page: 3, Runs: []Run{{Offset: 1<<32 - 1, Data: []byte("zz")}}})
	if err != nil || len(m.Runs) != 1 || string(m.Runs[0].Data) != "aaaaabbbbz" {
		t.Fatalf("Merge = %+v, %v", m.Runs, err)
	}
	// math.MaxInt is past 2^32 where int has 64 bits (on 32-bit
	// platforms the page alone refuses the run).
	if err := Validate(&d, math.MaxInt); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("Validate = %v, want ErrOutOfRange", err)
	}
	if err := Validate(&Delta{Runs: []Run{{Offset: 1<<32 - 2, Data: b[:2]}}}, math.MaxInt); (err == nil) != (math.MaxInt > 1<<32) {
		t.Fatalf("a run ending at 2^32: %v", err)
	}
}

// fuzzRuns builds runs from spec, six bytes a run: a mode byte, a 32-bit
// value and a length. The mode's low two bits place the offset: small
// (value%256), near the page end (pageLen - value%256), near 2^32
// (2^32-1 - value%256), or raw; mode bit 2 gives the run nil Data. Data
// is cut from pool, or made up when pool is too short.
func fuzzRuns(spec, pool []byte, pageLen int) []Run {
	var rs []Run
	for k := 0; len(spec) >= 6 && k < 64; k++ {
		mode, v, n := spec[0], binary.LittleEndian.Uint32(spec[1:]), int(spec[5])
		spec = spec[6:]
		var off uint32
		switch mode & 3 {
		case 0:
			off = v % 256
		case 1:
			off = uint32(max(pageLen-int(v%256), 0))
		case 2:
			off = 1<<32 - 1 - v%256
		default:
			off = v
		}
		r := Run{Offset: off}
		switch {
		case mode&4 != 0:
		case n <= len(pool):
			r.Data = pool[:n:n]
			pool = pool[n:]
		default:
			r.Data = make([]byte, n)
			for i := range r.Data {
				r.Data[i] = byte(k*31 + i)
			}
		}
		rs = append(rs, r)
	}
	return rs
}

// fuzzRun is one spec entry for fuzzRuns.
func fuzzRun(mode byte, v uint32, n byte) []byte {
	return append(binary.LittleEndian.AppendUint32([]byte{mode}, v), n)
}

// FuzzDeltaAPINeverPanics builds Delta structs straight from the fuzz
// input (Form, MaskLen, Mask, Payload and Runs set raw, not decoded) with a
// page of any length, and calls every exported function of the package on
// them. None may panic. Apply must either write exactly what the
// byte-at-a-time model says (nil error) or refuse with one of Validate's
// sentinels and write nothing; it must apply whatever Validate accepts, and
// accept what Validate refuses only for writing nothing or for an empty
// run. Ranges must report sorted, maximal ranges within 2^32 that add up to
// WrittenBytes; Normalize and Merge must be canonical; and for deltas
// Validate accepts, Normalize, Merge, the masked conversions, the encoding
// and Diff must preserve the effect; a delta of an unknown form must encode
// to bytes Decode refuses. Negative controls (run by hand, each
// fails on a seed at once): dropping Apply's MaskLen check or its sparse
// popcount check panics; letting Apply accept a sparse payload longer than
// the popcount fails the Validate agreement; writing the first of two runs
// before checking the second fails the page-unchanged check; encoding an
// unknown form with its low two bits fails the 0xf0 seed.
func FuzzDeltaAPINeverPanics(f *testing.F) {
	type in struct {
		form    byte
		maskLen uint32
		pageLen uint16
		mask    []byte
		payload []byte
		runs    []byte
	}
	none := []byte(nil)
	seeds := []in{
		// Valid shapes.
		{0, 0, 32, none, none, slices.Concat(fuzzRun(0, 4, 8), fuzzRun(0, 2, 3))},
		{1, 16, 32, []byte{0xf0, 0x0f}, seq(1, 16), none},
		{2, 16, 32, []byte{0xf0, 0x0f}, seq(1, 8), none},
		// Runs that do not fit: past the page, the second of two, near
		// 2^32 (the wrap that broke ToMaskedDense), nil Data, raw offsets.
		{0, 0, 8, none, none, fuzzRun(1, 2, 5)},
		{0, 0, 8, none, none, slices.Concat(fuzzRun(0, 0, 2), fuzzRun(1, 1, 2))},
		{0, 0, 32, none, none, slices.Concat(fuzzRun(2, 9, 30), fuzzRun(2, 4, 10))},
		{0, 0, 8, none, none, slices.Concat(fuzzRun(4, 3, 5), fuzzRun(0, 1, 1))},
		{0, 0, 8, none, none, fuzzRun(3, 1<<31, 8)},
		// Masked shapes that do not fit: MaskLen past the page, mask
		// shorter than MaskLen, dense payload short or long, sparse
		// payload short or long, MaskLen near 2^32 with no mask.
		{1, 16, 8, []byte{0, 0x80}, seq(1, 16), none},
		{1, 16, 32, []byte{0xff}, seq(1, 16), none},
		{1, 8, 32, []byte{0x80}, seq(1, 4), none},
		{1, 8, 32, []byte{0x80}, seq(1, 9), none},
		{2, 8, 32, []byte{0xff}, seq(1, 4), none},
		{2, 8, 32, []byte{0x01}, seq(1, 2), none},
		{2, 1<<32 - 1, 32, none, none, none},
		{1, 0, 32, none, seq(1, 1), none},
		// Unknown forms.
		{3, 8, 32, []byte{1}, seq(1, 1), fuzzRun(0, 0, 1)},
		{0xff, 8, 32, []byte{1}, seq(1, 1), none},
		// Unknown forms whose low bits are a known form's: they encoded
		// as that form (0xf0 as runs, 0xf1 as dense).
		{0xf0, 0, 32, none, none, fuzzRun(0, 0, 2)},
		{0xf1, 8, 32, []byte{3}, seq(1, 8), none},
	}
	for _, s := range seeds {
		f.Add(s.form, s.maskLen, s.pageLen, s.mask, s.payload, s.runs)
	}
	f.Fuzz(func(t *testing.T, form byte, maskLen uint32, pageLen uint16, mask, payload, runSpec []byte) {
		d := Delta{Page: 9, Form: Form(form % 4), MaskLen: maskLen, Mask: mask, Payload: payload, Source: "fuzz"}
		if form >= 0xf0 {
			d.Form = Form(form)
		}
		d.Runs = fuzzRuns(runSpec, payload, int(pageLen))
		before := seq(int(pageLen)*7, int(pageLen))
		checkAPI(t, &d, before)
	})
}

// checkAPI calls every exported function on d and a page holding before,
// checking what FuzzDeltaAPINeverPanics promises.
func checkAPI(t *testing.T, d *Delta, before []byte) {
	t.Helper()
	verr := Validate(d, len(before))
	for _, ps := range []int{-1, 0, 1, math.MaxInt} {
		_ = Validate(d, ps)
	}

	page := slices.Clone(before)
	err := Apply(d, page)
	switch {
	case err == nil:
		want := slices.Clone(before)
		applyModel(model(d, len(before)), want)
		if !bytes.Equal(page, want) {
			t.Fatalf("Apply differs from the model:\n got % x\nwant % x", page, want)
		}
	case !errors.Is(err, ErrOutOfRange) && !errors.Is(err, ErrSizeMismatch) && !errors.Is(err, ErrMalformed):
		t.Fatalf("Apply error %v wraps none of Validate's sentinels", err)
	case !bytes.Equal(page, before):
		t.Fatalf("Apply refused (%v) but wrote the page", err)
	}
	if verr == nil && err != nil {
		t.Fatalf("Validate accepts, Apply refuses: %v", err)
	}
	// Apply may accept what Validate refuses only for writing nothing
	// (ErrEmpty) or for an empty run among others (ErrMalformed).
	if err == nil && verr != nil && !errors.Is(verr, ErrEmpty) && (d.Form != FormRuns || !errors.Is(verr, ErrMalformed)) {
		t.Fatalf("Apply accepts what Validate refuses: %v", verr)
	}
	for i := range d.Runs {
		_ = ApplyRun(&d.Runs[i], slices.Clone(before))
	}

	var prevEnd uint64
	total := 0
	first := true
	Ranges(d, func(off, n uint32) {
		if n == 0 || uint64(off)+uint64(n) > addrSpace || (!first && uint64(off) <= prevEnd) {
			t.Fatalf("Ranges: [%d,+%d) after end %d", off, n, prevEnd)
		}
		first, prevEnd, total = false, uint64(off)+uint64(n), total+int(n)
	})
	if wb := WrittenBytes(d); wb != total {
		t.Fatalf("WrittenBytes %d, Ranges add up to %d", wb, total)
	}

	n := Normalize(d)
	checkCanonical(t, &n)
	m, merr := Merge(d, d)
	if merr != nil {
		t.Fatalf("Merge(d, d): %v", merr)
	}
	checkCanonical(t, &m)
	if _, merr := Merge(d, &Delta{Page: d.Page + 1}); !errors.Is(merr, ErrPageMismatch) {
		t.Fatalf("Merge across pages: %v", merr)
	}
	convLen := uint32(len(before))
	dense, derr := ToMaskedDense(d, convLen)
	sparse, serr := ToMaskedSparse(d, convLen)
	_, _ = ToMaskedDense(d, min(d.MaskLen, 1<<16))
	_, _ = ToMaskedSparse(d, min(d.MaskLen, 1<<16))

	// AppendEncode pads a mask shorter than MaskLen bits with zero
	// bytes (documented): up to 512 MiB for MaskLen near 2^32, too slow
	// for a fuzz loop, so such deltas are encoded with the mask trimmed.
	ed := *d
	if maskBytes(ed.MaskLen) > uint64(len(ed.Mask))+1<<16 {
		ed.MaskLen = uint32(len(ed.Mask) * 8)
	}
	enc := AppendEncode(nil, &ed)
	var dec Delta
	_, decErr := Decode(enc, &dec)
	_, _, _, _, _ = DecodeOneRun(enc)
	if d.Form > FormMaskedSparse && !errors.Is(decErr, ErrMalformed) {
		// An unknown form must not decode as a known one, which would
		// write bytes where the delta encoded writes none.
		t.Fatalf("unknown form %d encoded as % x decodes (%v) as form %d", d.Form, enc, decErr, dec.Form)
	}

	if verr != nil {
		return
	}
	// d is valid: every derived delta must have d's effect.
	for name, x := range map[string]struct {
		d   *Delta
		err error
	}{"Normalize": {&n, nil}, "Merge": {&m, nil}, "ToMaskedDense": {&dense, derr}, "ToMaskedSparse": {&sparse, serr}, "Decode": {&dec, decErr}} {
		if x.err != nil {
			t.Fatalf("%s of a valid delta: %v", name, x.err)
		}
		got := slices.Clone(before)
		if err := Apply(x.d, got); err != nil || !bytes.Equal(got, page) {
			t.Fatalf("%s: Apply = %v, page\n got % x\nwant % x", name, err, got, page)
		}
	}
	diff, err := Diff(d.Page, before, page)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(before)
	if err := Apply(&diff, got); err != nil || !bytes.Equal(got, page) {
		t.Fatalf("Diff: Apply = %v", err)
	}
	var ad Delta
	if err := AppendDiff(&ad, before, page); err != nil || len(ad.Runs) != len(diff.Runs) {
		t.Fatalf("AppendDiff: %v, %d runs, Diff %d", err, len(ad.Runs), len(diff.Runs))
	}
}

// checkCanonical checks Normalize's promise: FormRuns, runs non-empty,
// sorted, disjoint and not adjacent, all within 2^32.
func checkCanonical(t *testing.T, d *Delta) {
	t.Helper()
	if d.Form != FormRuns {
		t.Fatalf("normalized form %d", d.Form)
	}
	var prevEnd uint64
	for i, r := range d.Runs {
		end := uint64(r.Offset) + uint64(len(r.Data))
		if len(r.Data) == 0 || end > addrSpace || (i > 0 && uint64(r.Offset) <= prevEnd) {
			t.Fatalf("normalized run %d [%d,%d) after end %d", i, r.Offset, end, prevEnd)
		}
		prevEnd = end
	}
}
