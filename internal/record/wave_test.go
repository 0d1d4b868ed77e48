package record

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
)

// The wave operation (kind 11) and the payload version 2 that a record
// holding one carries, as docs/formats.md ("Log record payload") lays them
// out.

const (
	docKindWave           = 11
	docWavePayloadVersion = 2
)

// sampleWaveBatch is a propagation wave's record: a derived delta, a flag
// change, then the wave op.
func sampleWaveBatch() []byte {
	b := AppendWaveHeader(nil, 1_700_000_000_000_000_456)
	d := delta.Delta{Page: 9, Runs: []delta.Run{{Offset: 0, Data: []byte("xy")}}, Source: delta.SourcePropagation}
	b = AppendDerived(b, []ParentRead{{Page: 1, LSN: 4}}, &d)
	b = AppendFlags(b, 3, 1)
	return AppendWave(b, []base.PageID{1, 5, 1 << 40}, []base.PageID{9})
}

func TestWaveOpMatchesFormatsDoc(t *testing.T) {
	if OpWave != docKindWave || WaveFormatVersion != docWavePayloadVersion {
		t.Fatalf("wave op kind %d in payload version %d, the doc says %d in version %d", OpWave, WaveFormatVersion, docKindWave, docWavePayloadVersion)
	}
	const when = int64(77)
	// kind, uvarint dirty count, first ID, gaps; uvarint held count, first ID, gaps.
	doc := docBytes(t, fU8(docWavePayloadVersion), fVi(when),
		fU8(docKindWave), fUv(3), fUv(4), fUv(1), fUv(295), fUv(0))
	enc := AppendWave(AppendWaveHeader(nil, when), []base.PageID{4, 5, 300}, nil)
	if !bytes.Equal(enc, doc) {
		t.Fatalf("encoder writes % x\n  the doc's layout is % x", enc, doc)
	}
	doc2 := docBytes(t, fU8(docWavePayloadVersion), fVi(when), fU8(docKindWave), fUv(0), fUv(2), fUv(7), fUv(2))
	if enc := AppendWave(AppendWaveHeader(nil, when), nil, []base.PageID{7, 9}); !bytes.Equal(enc, doc2) {
		t.Fatalf("encoder writes % x\n  the doc's layout is % x", enc, doc2)
	}
	var dec Decoder
	if err := dec.Reset(doc); err != nil {
		t.Fatal(err)
	}
	var op Op
	if err := dec.Next(&op); err != nil {
		t.Fatal(err)
	}
	want := Op{Kind: OpWave, Dirty: []base.PageID{4, 5, 300}, Held: []base.PageID{}}
	if op.Kind != want.Kind || !reflect.DeepEqual(op.Dirty, want.Dirty) || len(op.Held) != 0 || dec.More() {
		t.Fatalf("decoded %+v, want %+v", op, want)
	}
	if OpWave.String() != "wave" {
		t.Fatalf("OpWave names itself %q", OpWave.String())
	}
}

func TestWaveBatchRoundTrip(t *testing.T) {
	if err := checkBatchRoundTrip(sampleWaveBatch(), appendOp); err != nil {
		t.Fatal(err)
	}
	_, ops, err := decodeBatch(sampleWaveBatch())
	if err != nil {
		t.Fatal(err)
	}
	w := ops[len(ops)-1]
	if w.Kind != OpWave || !slicesEqual(w.Dirty, []base.PageID{1, 5, 1 << 40}) || !slicesEqual(w.Held, []base.PageID{9}) {
		t.Fatalf("wave op decoded as %+v", w)
	}
	// A re-encoder that drops the held-back pages fails the law.
	lossy := func(dst []byte, op *Op) []byte {
		if op.Kind == OpWave {
			return AppendWave(dst, op.Dirty, nil)
		}
		return appendOp(dst, op)
	}
	if err := checkBatchRoundTrip(sampleWaveBatch(), lossy); err == nil {
		t.Fatal("round-trip law passed an encoder that loses the held-back pages")
	}
}

func TestWaveOpRefusals(t *testing.T) {
	hdr := AppendWaveHeader(nil, 5)
	withOp := func(b ...byte) []byte { return append(append(bytes.Clone(hdr), byte(OpWave)), b...) }
	cases := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"in a version 1 payload", AppendWave(AppendHeader(nil, 5), nil, nil), "operation kind 11 (wave) in a version 1 payload"},
		{"dirty count missing", withOp(), "bad varint"},
		{"held count missing", withOp(0), "bad varint"},
		{"dirty count past the payload", withOp(200, 1, 2), "dirty page set declares 200 page IDs"},
		{"held count past the payload", withOp(0, 3, 1), "held-back page set declares 3 page IDs"},
		{"gap of zero", withOp(2, 5, 0, 0), "dirty page set: gap 0 after page ID 5"},
		{"gap past 2^64", withOp(2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 0), "gap 1 after page ID 18446744073709551615"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dec Decoder
			if err := dec.Reset(c.payload); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			var op Op
			err := dec.Next(&op)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Next(% x) = %v, want ErrMalformed naming %q", c.payload, err, c.want)
			}
		})
	}
	// A payload version past 2 is refused as before.
	var dec Decoder
	if err := dec.Reset([]byte{3, 0}); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "unknown payload version 3") {
		t.Fatalf("version 3: %v", err)
	}
}
