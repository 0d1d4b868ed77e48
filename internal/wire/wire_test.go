package wire_test

import (
	"bytes"
	"reflect"
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
		delta.Apply(&d, a)
		delta.Apply(&got, c)
		if !bytes.Equal(a, c) || got.Form != d.Form || got.Source != "src" || string(got.Intent) != "why" || got.Page != 7 ||
			got.CheckEpoch != d.CheckEpoch || got.ExpectEpoch != d.ExpectEpoch {
			t.Fatalf("round trip changed the delta: %+v -> %+v", d, got)
		}
	})
}

// FuzzDeltaFromProto: any bytes decoded as a wire delta convert without
// panicking, and the result either fails validation or applies safely.
func FuzzDeltaFromProto(f *testing.F) {
	d := mmsb.Write(1, 2, []byte("ab"))
	seed, _ := proto.Marshal(wire.DeltaToProto(&d))
	f.Add(seed)
	m, _ := delta.ToMaskedSparse(&d, 8)
	seed, _ = proto.Marshal(wire.DeltaToProto(&m))
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p mmsbv1.Delta
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		got, err := wire.DeltaFromProto(&p, "", nil)
		if err != nil {
			return
		}
		page := make([]byte, 64)
		if delta.Validate(&got, len(page)) == nil {
			delta.Apply(&got, page)
		}
	})
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
