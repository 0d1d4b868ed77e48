package delta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// sameDelta reports whether a and b agree on every encoded field, treating
// nil and empty slices alike.
func sameDelta(a, b *Delta) bool {
	if a.Page != b.Page || a.Form != b.Form || a.Source != b.Source ||
		!bytes.Equal(a.Intent, b.Intent) || a.CheckEpoch != b.CheckEpoch {
		return false
	}
	if a.CheckEpoch && a.ExpectEpoch != b.ExpectEpoch {
		return false
	}
	switch a.Form {
	case FormRuns:
		if len(a.Runs) != len(b.Runs) {
			return false
		}
		for i := range a.Runs {
			if a.Runs[i].Offset != b.Runs[i].Offset || !bytes.Equal(a.Runs[i].Data, b.Runs[i].Data) {
				return false
			}
		}
		return true
	default:
		return a.MaskLen == b.MaskLen && bytes.Equal(a.Payload, b.Payload) &&
			maskBitsEqual(a, b)
	}
}

func maskBitsEqual(a, b *Delta) bool {
	bit := func(m []byte, i uint32) bool { return int(i/8) < len(m) && m[i/8]&(1<<(i%8)) != 0 }
	for i := uint32(0); i < a.MaskLen; i++ {
		if bit(a.Mask, i) != bit(b.Mask, i) {
			return false
		}
	}
	return true
}

func codecCases() []*Delta {
	dense := mustMasked(ToMaskedDense(runs(Run{3, seq(0, 5)}, Run{70, seq(0, 9)}), 83))
	sparse := mustMasked(ToMaskedSparse(&dense, 83))
	sparse.Source, sparse.CheckEpoch, sparse.ExpectEpoch = "replay", true, 1<<40
	return []*Delta{
		{},
		{Page: 1, Runs: []Run{{Offset: 0, Data: []byte{1}}}},
		{Page: 1 << 60, Runs: []Run{{Offset: 1 << 31, Data: seq(0, 300)}, {Offset: 5, Data: seq(7, 16)}}, Source: "api"},
		{Page: 9, Runs: []Run{{Offset: 2, Data: seq(0, 16)}}, Source: "propagation", Intent: []byte(`{"why":"test"}`)},
		{Page: 9, Runs: []Run{{Offset: 2, Data: seq(0, 16)}}, Source: "my-tool", CheckEpoch: true},
		{Page: 9, Runs: []Run{{Offset: 2, Data: nil}}, Source: "bench"},
		&dense,
		&sparse,
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for i, d := range codecCases() {
		enc := AppendEncode([]byte("prefix"), d)
		enc = append(enc, "trailer"...)
		var got Delta
		got.LSN = 5
		n, err := Decode(enc[len("prefix"):], &got)
		if err != nil {
			t.Fatalf("case %d: Decode: %v", i, err)
		}
		if string(enc[len("prefix")+n:]) != "trailer" {
			t.Fatalf("case %d: consumed %d bytes, trailer is %q", i, n, enc[len("prefix")+n:])
		}
		if !sameDelta(d, &got) {
			t.Fatalf("case %d: round trip\n got %+v\nwant %+v", i, got, *d)
		}
		if got.LSN != 0 {
			t.Fatalf("case %d: Decode left LSN", i)
		}
	}
}

func TestEncodeIsCompact(t *testing.T) {
	d := &Delta{Page: 1000, Runs: []Run{{Offset: 100, Data: seq(0, 16)}}, Source: "api"}
	// page 2 + header 1 + nruns 1 + offset 1 + len 1 + data 16 + source 1.
	if n := len(AppendEncode(nil, d)); n != 23 {
		t.Fatalf("16-byte delta encodes to %d bytes, want 23", n)
	}
}

func TestEncodeCanonicalMaskTail(t *testing.T) {
	a := &Delta{Form: FormMaskedSparse, MaskLen: 3, Mask: []byte{0x01}, Payload: []byte{1}}
	b := &Delta{Form: FormMaskedSparse, MaskLen: 3, Mask: []byte{0xf9, 0xff}, Payload: []byte{1}}
	if ea, eb := AppendEncode(nil, a), AppendEncode(nil, b); !bytes.Equal(ea, eb) {
		t.Fatalf("stray mask bits leak into the encoding: %x vs %x", ea, eb)
	}
}

func TestDecodeInternsSources(t *testing.T) {
	for _, s := range []string{"api", "propagation", "bench", "replay"} {
		// Spelled out as a literal, not as a code: still interned.
		enc := []byte{1, hdrSource, 0}
		enc = binary.AppendUvarint(enc, sourceLiteral+uint64(len(s)))
		enc = append(enc, s...)
		var d Delta
		if a := testing.AllocsPerRun(10, func() { _, _ = Decode(enc, &d) }); a != 0 {
			t.Errorf("%s: %v allocs", s, a)
		}
		if d.Source != s {
			t.Errorf("decoded source %q", d.Source)
		}
	}
}

func TestDecodeBadInput(t *testing.T) {
	valid := AppendEncode(nil, &Delta{Page: 3, Runs: []Run{{Offset: 1, Data: seq(0, 4)}}, Source: "x", Intent: []byte("i"), CheckEpoch: true, ExpectEpoch: 300})
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"page only", []byte{3}},
		{"unterminated page varint", []byte{0x80, 0x80}},
		{"page varint too long", bytes.Repeat([]byte{0xff}, 11)},
		{"reserved header bit", []byte{3, 0x20, 0}},
		{"unknown form", []byte{3, 0x03, 0}},
		{"no run count", []byte{3, 0}},
		{"run count lies", []byte{3, 0, 100, 0, 0}},
		{"run offset overflows 32 bits", []byte{3, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 0}},
		{"run data short", []byte{3, 0, 1, 0, 5, 1, 2}},
		{"run length huge", []byte{3, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"mask short", []byte{3, 1, 20, 0xff}},
		{"mask stray bits", []byte{3, 2, 3, 0x09, 1, 7}},
		{"payload short", []byte{3, 1, 8, 0xff, 8, 1}},
		{"mask length overflows", []byte{3, 1, 0xff, 0xff, 0xff, 0xff, 0x1f}},
		{"reserved source code", []byte{3, hdrSource, 0, 5}},
		{"empty source literal", []byte{3, hdrSource, 0, sourceLiteral}},
		{"source short", []byte{3, hdrSource, 0, sourceLiteral + 3, 'a'}},
		{"empty intent", []byte{3, hdrIntent, 0, 0}},
		{"intent short", []byte{3, hdrIntent, 0, 4, 'a'}},
		{"epoch missing", []byte{3, hdrCheckEpoch, 0}},
		{"truncated valid", valid[:len(valid)-1]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Delta
			n, err := Decode(tc.in, &d)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = (%d, %v), want ErrMalformed", n, err)
			}
			if n != 0 {
				t.Fatalf("Decode consumed %d bytes on error", n)
			}
		})
	}
	// Every proper prefix of a valid encoding is malformed.
	for i := range valid {
		var d Delta
		if _, err := Decode(valid[:i], &d); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, d := range codecCases() {
		f.Add(AppendEncode(nil, d))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var d Delta
		n, err := Decode(in, &d)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if n <= 0 || n > len(in) {
			t.Fatalf("consumed %d of %d", n, len(in))
		}
		// Whatever decodes must re-encode to something that decodes to
		// the same delta, and must be safe to validate and inspect.
		enc := AppendEncode(nil, &d)
		// The encoder writes the shortest form, so a re-encoding longer
		// than what was consumed means a field the input did not hold was
		// decoded (as zero, say) rather than refused.
		if len(enc) > n {
			t.Fatalf("% x decoded from %d bytes re-encodes to %d: % x", in[:n], n, len(enc), enc)
		}
		var d2 Delta
		if _, err := Decode(enc, &d2); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !sameDelta(&d, &d2) {
			t.Fatalf("re-decode differs:\n%+v\n%+v", d, d2)
		}
		if !bytes.Equal(AppendEncode(nil, &d2), enc) {
			t.Fatal("encoding is not stable")
		}
		const ps = 512
		if Validate(&d, ps) == nil {
			page := make([]byte, ps)
			if err := Apply(&d, page); err != nil {
				t.Fatalf("Validate accepts, Apply refuses: %v", err)
			}
			n := Normalize(&d)
			m := mustMerge(t, &d, &d)
			if !sameRuns(n.Runs, m.Runs) {
				t.Fatal("Merge(d, d) differs from Normalize(d)")
			}
			if WrittenBytes(&n) != WrittenBytes(&d) {
				t.Fatal("Normalize changed the written byte count")
			}
		}
		_ = WrittenBytes(&d)
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(uint64(1), byte(0), uint32(5), []byte("hello"), "api", []byte(nil), false, uint64(0))
	f.Add(uint64(1<<50), byte(1), uint32(13), []byte{0xff, 0x1f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, "custom", []byte("{}"), true, uint64(7))
	f.Add(uint64(2), byte(2), uint32(9), []byte{0x01, 0x01, 0xaa, 0xbb}, "", []byte("intent"), true, uint64(1<<63))
	f.Fuzz(func(t *testing.T, page uint64, form byte, x uint32, body []byte, source string, intent []byte, check bool, epoch uint64) {
		d := Delta{Page: 0, Source: source, Intent: intent, CheckEpoch: check}
		d.Page = pageID(page)
		if check {
			d.ExpectEpoch = epochOf(epoch)
		}
		switch form % 3 {
		case 0:
			// body split into runs at offsets derived from x.
			for len(body) > 0 {
				n := min(len(body), int(x%7)+1)
				d.Runs = append(d.Runs, Run{Offset: x, Data: body[:n]})
				body = body[n:]
				x = x*31 + 7
			}
		default:
			d.Form = Form(form % 3)
			d.MaskLen = x % 4096
			nb := int(maskBytes(d.MaskLen))
			if nb > len(body) {
				return
			}
			d.Mask = body[:nb]
			d.Payload = body[nb:]
		}
		enc := AppendEncode(nil, &d)
		var got Delta
		n, err := Decode(enc, &got)
		if err != nil {
			t.Fatalf("Decode(AppendEncode(d)): %v", err)
		}
		if n != len(enc) {
			t.Fatalf("consumed %d of %d", n, len(enc))
		}
		if !sameDelta(&d, &got) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, d)
		}
	})
}

func pageID(v uint64) PageID { return PageID(v) }
func epochOf(v uint64) Epoch { return Epoch(v) }

// TestEncodeGolden pins the wire format documented in docs/delta.md: any
// change here is a format change and needs a FormatVersion bump.
func TestEncodeGolden(t *testing.T) {
	tests := []struct {
		name string
		d    *Delta
		want []byte
	}{
		{"docs example", &Delta{Page: 1000, Runs: []Run{{Offset: 100, Data: seq(0, 16)}}, Source: "api"},
			append(append([]byte{0xe8, 0x07, 0x08, 0x01, 0x64, 0x10}, seq(0, 16)...), 0x00)},
		{"empty", &Delta{}, []byte{0x00, 0x00, 0x00}},
		{"all metadata", &Delta{Page: 2, Runs: []Run{{Offset: 1, Data: []byte{9}}}, Source: "ab", Intent: []byte("i"), CheckEpoch: true, ExpectEpoch: 300},
			[]byte{0x02, 0x1c, 0x01, 0x01, 0x01, 0x09, 0x0a, 'a', 'b', 0x01, 'i', 0xac, 0x02}},
		{"sparse", &Delta{Page: 3, Form: FormMaskedSparse, MaskLen: 10, Mask: []byte{0x01, 0xfe}, Payload: []byte{7, 8}, Source: "replay"},
			[]byte{0x03, 0x0a, 0x0a, 0x01, 0x02, 0x02, 7, 8, 0x03}},
	}
	for _, tc := range tests {
		if got := AppendEncode(nil, tc.d); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: encoding\n got % x\nwant % x", tc.name, got, tc.want)
		}
	}
}

// TestEncodeOneRunMatchesFields: AppendEncode's one-run fast path writes
// exactly what the field-by-field encoder writes, for page IDs, offsets
// and lengths across every varint width, each well-known source, none, a
// literal one, and after a non-empty prefix. The golden test pins the
// bytes; this pins that the two paths cannot drift apart.
func TestEncodeOneRunMatchesFields(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		widths := rapid.SampledFrom([]uint64{0, 1, 127, 128, 16383, 16384, 1<<21 - 1, 1 << 21, 1<<28 - 1, 1 << 28, 1<<32 - 1, 1<<63 + 5})
		d := &Delta{
			Page: PageID(widths.Draw(t, "page")),
			Runs: []Run{{
				Offset: uint32(widths.Draw(t, "offset")),
				Data:   rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(t, "data"),
			}},
			Source: rapid.SampledFrom([]string{"", SourceAPI, SourcePropagation, SourceBench, SourceReplay, "custom"}).Draw(t, "source"),
		}
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
		got := AppendEncode(slices.Clone(prefix), d)
		want := appendEncodeFields(slices.Clone(prefix), d)
		if !bytes.Equal(got, want) {
			t.Fatalf("fast path % x\n    fields % x", got, want)
		}
		var back Delta
		if _, err := Decode(got[len(prefix):], &back); err != nil || back.Page != d.Page || back.Source != d.Source ||
			len(back.Runs) != 1 || back.Runs[0].Offset != d.Runs[0].Offset || !bytes.Equal(back.Runs[0].Data, d.Runs[0].Data) {
			t.Fatalf("decode of % x: %+v, %v; want %+v", got, back, err, d)
		}
		// The fast decoder reads every such delta but one with a literal
		// source, the same way.
		page, off, data, n, ok := DecodeOneRun(got[len(prefix):])
		if wantOK := d.Source != "custom"; ok != wantOK {
			t.Fatalf("DecodeOneRun(% x) ok = %v, want %v", got[len(prefix):], ok, wantOK)
		}
		if ok && (page != d.Page || off != d.Runs[0].Offset || !bytes.Equal(data, d.Runs[0].Data) || n != len(got)-len(prefix)) {
			t.Fatalf("DecodeOneRun(% x) = page %d, run [%d, % x), %d bytes; want %+v", got[len(prefix):], page, off, data, n, d)
		}
	})
}

// FuzzDecodeOneRun: whatever the fast decoder accepts, Decode decodes to
// the same delta and length, with nothing DecodeOneRun cannot express.
func FuzzDecodeOneRun(f *testing.F) {
	for _, d := range codecCases() {
		f.Add(AppendEncode(nil, d))
	}
	f.Add(AppendEncode(nil, &Delta{Page: 7, Runs: []Run{{Offset: 3, Data: []byte("abc")}}, Source: SourceBench}))
	// One run with each field the fast shape does not have: a fast
	// decoder that let the header bit of one through passed the seeds
	// above (accepting the epoch-check bit was found only by fuzzing).
	one := func(d Delta) []byte {
		d.Page, d.Runs = 7, []Run{{Offset: 3, Data: []byte("abc")}}
		return AppendEncode(nil, &d)
	}
	f.Add(one(Delta{CheckEpoch: true, ExpectEpoch: 9}))
	f.Add(one(Delta{Source: SourceAPI, CheckEpoch: true, ExpectEpoch: 1}))
	f.Add(one(Delta{Intent: []byte("i")}))
	f.Add(one(Delta{Source: "literal"}))
	f.Fuzz(func(t *testing.T, in []byte) {
		page, off, data, n, ok := DecodeOneRun(in)
		if !ok {
			return
		}
		var d Delta
		m, err := Decode(in, &d)
		if err != nil {
			t.Fatalf("DecodeOneRun accepted % x, Decode refuses it: %v", in, err)
		}
		if m != n || d.Page != page || d.Form != FormRuns || len(d.Runs) != 1 || d.Runs[0].Offset != off ||
			!bytes.Equal(d.Runs[0].Data, data) || len(d.Intent) != 0 || d.CheckEpoch {
			t.Fatalf("% x: DecodeOneRun page %d run [%d, % x) %d bytes; Decode %+v, %d bytes", in, page, off, data, n, d, m)
		}
		if cap(data) != len(data) {
			t.Fatal("the run's bytes may be appended to over the input")
		}
	})
}

// TestEncodeUnknownFormStaysMalformed: a delta of any unknown Form, with
// runs or mask fields set, encodes to bytes Decode refuses with
// ErrMalformed. Before, AppendEncode kept the Form's low two bits, so
// Form 4 (and 0xf0...) decoded as a FormRuns delta writing its runs, and 5
// and 6 as masked deltas, where the delta encoded writes nothing.
func TestEncodeUnknownFormStaysMalformed(t *testing.T) {
	for _, form := range []Form{3, 4, 5, 6, 7, 8, 0x7f, 0xf0, 0xf1, 0xf2, 0xff} {
		for _, d := range []Delta{
			{Page: 1, Form: form, Runs: []Run{{Offset: 0, Data: []byte("ab")}}},
			{Page: 1, Form: form, Runs: []Run{{Offset: 0, Data: []byte("ab")}}, Source: SourceAPI},
			{Page: 1, Form: form, MaskLen: 8, Mask: []byte{3}, Payload: []byte("xy"), Source: "lit", CheckEpoch: true},
		} {
			enc := AppendEncode(nil, &d)
			var got Delta
			n, err := Decode(enc, &got)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("form %d (%+v): encoded % x, Decode = %d, %v (form %d writing %d bytes), want ErrMalformed",
					form, d, enc, n, err, got.Form, WrittenBytes(&got))
			}
			if _, _, _, _, ok := DecodeOneRun(enc); ok {
				t.Errorf("form %d: DecodeOneRun accepts % x", form, enc)
			}
		}
	}
}
