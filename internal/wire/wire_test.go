package wire_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// TestDeltaRoundTrip: a valid delta in any form survives the wire: the
// decoded delta writes the same bytes, with the same metadata.
func TestDeltaRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := rapid.IntRange(1, 64).Draw(t, "size")
		old := make([]byte, size)
		cur := rapid.SliceOfN(rapid.Byte(), size, size).Draw(t, "cur")
		cur[0] |= 1 // an empty delta is invalid
		d, err := mmsb.Diff(7, old, cur)
		if err != nil {
			t.Fatal(err)
		}
		switch rapid.IntRange(0, 2).Draw(t, "form") {
		case 1:
			if d, err = delta.ToMaskedDense(&d, uint32(size)); err != nil {
				t.Fatal(err)
			}
		case 2:
			if d, err = delta.ToMaskedSparse(&d, uint32(size)); err != nil {
				t.Fatal(err)
			}
		}
		d.Source, d.Intent = "src", []byte("why")
		d.CheckEpoch = rapid.Bool().Draw(t, "check")
		if d.CheckEpoch {
			d.ExpectEpoch = mmsb.Epoch(rapid.Uint64().Draw(t, "expect"))
		}
		b, err := proto.Marshal(wire.DeltaToProto(&d))
		if err != nil {
			t.Fatal(err)
		}
		var p mmsbv1.Delta
		if err := proto.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		got, err := wire.DeltaFromProto(&p, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := delta.Validate(&got, size); err != nil {
			t.Fatal(err)
		}
		a, c := make([]byte, size), make([]byte, size)
		if err := errors.Join(delta.Apply(&d, a), delta.Apply(&got, c)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, c) || got.Form != d.Form || got.Source != "src" || string(got.Intent) != "why" || got.Page != 7 ||
			got.CheckEpoch != d.CheckEpoch || got.ExpectEpoch != d.ExpectEpoch {
			t.Fatalf("round trip changed the delta: %+v -> %+v", d, got)
		}
	})
}

// FuzzDeltaFromProto: any bytes decoded as a wire delta convert without
// panicking; a refusal wraps mmsb.ErrInvalidDelta; what converts, converts
// back to the same message (checkDeltaProto), and either fails validation
// or applies safely. TestDeltaProtoCheckCanFail is its negative control.
func FuzzDeltaFromProto(f *testing.F) {
	for _, seed := range deltaProtoSeeds(f) {
		f.Add(seed)
	}
	// And deltas that carry a field their form does not have: refused, and
	// a conversion that took one would fail the round trip (the field is
	// not converted back), so the seeds alone catch a lost refusal.
	for _, p := range []*mmsbv1.Delta{
		{Page: 1, Form: mmsbv1.DeltaForm_DELTA_FORM_RUNS, Runs: []*mmsbv1.Run{{Off: 1, Data: []byte("a")}}, Mask: []byte{1}},
		{Page: 1, Form: mmsbv1.DeltaForm_DELTA_FORM_RUNS, Runs: []*mmsbv1.Run{{Off: 1, Data: []byte("a")}}, Payload: []byte{1}},
		{Page: 1, Form: mmsbv1.DeltaForm_DELTA_FORM_MASKED_DENSE, Mask: []byte{1}, MaskLen: 8, Payload: []byte{7}, Runs: []*mmsbv1.Run{{Off: 1, Data: []byte("a")}}},
	} {
		b, err := proto.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := checkDeltaProto(b, wire.DeltaToProto); err != nil {
			t.Fatal(err)
		}
	})
}

// deltaProtoSeeds are wire deltas of every form, with and without the
// optional fields; each must convert.
func deltaProtoSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	d := mmsb.Write(1, 2, []byte("ab"))
	m, err := delta.ToMaskedSparse(&d, 8)
	if err != nil {
		tb.Fatal(err)
	}
	dense, err := delta.ToMaskedDense(&d, 8)
	if err != nil {
		tb.Fatal(err)
	}
	full := mmsb.Delta{Page: 9, Runs: []mmsb.Run{{Offset: 1, Data: []byte("x")}, {Offset: 5, Data: []byte("yz")}},
		Source: "src", Intent: []byte("why"), CheckEpoch: true, ExpectEpoch: 4}
	var out [][]byte
	for _, x := range []*mmsb.Delta{&d, &m, &dense, &full} {
		b, err := proto.Marshal(wire.DeltaToProto(x))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// checkDeltaProto is FuzzDeltaFromProto's law on one input, with the
// encoder as a parameter so that the negative control can break it. The
// message is read without unknown fields (which the conversion drops by
// design); if DeltaFromProto accepts it, toProto must give it back field
// for field: page, form, runs or mask, mask length and payload, source,
// intent, and the epoch check's presence and value.
func checkDeltaProto(b []byte, toProto func(*mmsb.Delta) *mmsbv1.Delta) error {
	var p mmsbv1.Delta
	if (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &p) != nil {
		return nil
	}
	got, err := wire.DeltaFromProto(&p, "", nil)
	if err != nil {
		if !errors.Is(err, mmsb.ErrInvalidDelta) {
			return fmt.Errorf("refusal does not wrap ErrInvalidDelta: %w", err)
		}
		return nil
	}
	if back := toProto(&got); !proto.Equal(back, &p) {
		return fmt.Errorf("converted back differently:\n got %v\nwant %v", back, &p)
	}
	page := make([]byte, 64)
	if delta.Validate(&got, len(page)) == nil {
		if err := delta.Apply(&got, page); err != nil {
			return fmt.Errorf("a delta Validate accepts does not apply: %w", err)
		}
	}
	return nil
}

// TestDeltaProtoCheckCanFail: the seeds convert (so the fuzz target does
// not pass by refusing everything), and a conversion that loses any one
// field fails the law on some seed.
func TestDeltaProtoCheckCanFail(t *testing.T) {
	seeds := deltaProtoSeeds(t)
	for i, b := range seeds {
		var p mmsbv1.Delta
		if err := proto.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if _, err := wire.DeltaFromProto(&p, "", nil); err != nil {
			t.Fatalf("seed %d refused: %v", i, err)
		}
		if err := checkDeltaProto(b, wire.DeltaToProto); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
	}
	lossy := map[string]func(p *mmsbv1.Delta){
		"page":         func(p *mmsbv1.Delta) { p.Page++ },
		"intent":       func(p *mmsbv1.Delta) { p.Intent = nil },
		"source":       func(p *mmsbv1.Delta) { p.Source = "" },
		"epoch check":  func(p *mmsbv1.Delta) { p.ExpectEpoch = nil },
		"last run":     func(p *mmsbv1.Delta) { p.Runs = p.Runs[:max(len(p.Runs)-1, 0)] },
		"mask length":  func(p *mmsbv1.Delta) { p.MaskLen = 0 },
		"payload":      func(p *mmsbv1.Delta) { p.Payload = nil },
		"masked forms": func(p *mmsbv1.Delta) { p.Form = min(p.Form, mmsbv1.DeltaForm_DELTA_FORM_MASKED_DENSE) },
	}
	for _, name := range slices.Sorted(maps.Keys(lossy)) {
		enc := func(d *mmsb.Delta) *mmsbv1.Delta {
			p := wire.DeltaToProto(d)
			lossy[name](p)
			return p
		}
		caught := false
		for _, b := range seeds {
			caught = caught || checkDeltaProto(b, enc) != nil
		}
		if !caught {
			t.Errorf("a conversion that loses the %s passed on every seed", name)
		}
	}
}

// TestBatchConversions: the batch conversions (one allocation per batch)
// give what the per-delta ones give, and DeltasFromProto names the index
// of the first invalid delta.
func TestBatchConversions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 8).Draw(t, "n")
		ds := make([]mmsb.Delta, n)
		for i := range ds {
			size := rapid.IntRange(1, 32).Draw(t, "size")
			cur := rapid.SliceOfN(rapid.Byte(), size, size).Draw(t, "cur")
			cur[0] |= 1
			d, err := mmsb.Diff(mmsb.PageID(i+1), make([]byte, size), cur)
			if err != nil {
				t.Fatal(err)
			}
			switch rapid.IntRange(0, 2).Draw(t, "form") {
			case 1:
				d, err = delta.ToMaskedDense(&d, uint32(size))
			case 2:
				d, err = delta.ToMaskedSparse(&d, uint32(size))
			}
			if err != nil {
				t.Fatal(err)
			}
			d.Source = rapid.SampledFrom([]string{"", "s"}).Draw(t, "source")
			if d.CheckEpoch = rapid.Bool().Draw(t, "check"); d.CheckEpoch {
				d.ExpectEpoch = mmsb.Epoch(rapid.Uint64().Draw(t, "expect"))
			}
			ds[i] = d
		}
		batch := wire.DeltasToProtoAliased(ds)
		for i := range ds {
			if one := wire.DeltaToProto(&ds[i]); !proto.Equal(batch[i], one) {
				t.Fatalf("delta %d: batch %v, alone %v", i, batch[i], one)
			}
		}
		got, _, err := wire.DeltasFromProto(batch, "def", []byte("why"))
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range batch {
			one, err := wire.DeltaFromProto(p, "def", []byte("why"))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[i], one) {
				t.Fatalf("delta %d: batch %+v, alone %+v", i, got[i], one)
			}
		}
		bad := rapid.IntRange(0, n-1).Draw(t, "bad")
		batch[bad] = &mmsbv1.Delta{Page: 1, Form: mmsbv1.DeltaForm(99)}
		if _, at, err := wire.DeltasFromProto(batch, "", nil); err == nil || at != bad {
			t.Fatalf("invalid delta %d: error %v at %d", bad, err, at)
		}
	})
}

// TestValidText: valid UTF-8 is kept as it is, and each byte of an invalid
// sequence (a stray byte, a rune cut short) is written as \xNN.
func TestValidText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"f64", "f64"},
		{"naïve ✓", "naïve ✓"},
		{`\x41`, `\x41`},
		{"f\xff64", `f\xff64`},
		{"cut \xe2\x9c", `cut \xe2\x9c`},
		{"\xc3\xa9\xc3", `é\xc3`},
	} {
		if got := wire.ValidText(c.in); got != c.want {
			t.Errorf("ValidText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
