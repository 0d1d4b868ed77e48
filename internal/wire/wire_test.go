package wire_test

import (
	"bytes"
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
		if !bytes.Equal(a, c) || got.Form != d.Form || got.Source != "src" || string(got.Intent) != "why" || got.Page != 7 {
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
