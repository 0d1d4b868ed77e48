package delta

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

// The binary encoding of docs/delta.md ("Binary encoding"), transcribed
// from the doc's tables: page uvarint, header byte (bits 0-1 form, bit 2
// epoch check, bit 3 source, bit 4 intent), runs or masked body, then
// source, intent and expected epoch in that order. The test builds each
// delta's bytes the way the doc says, checks AppendEncode writes exactly
// those bytes and Decode reads them back to the same delta, consuming
// them all. A change to the code or to the doc that is not made to the
// other fails here.

// The doc's header bits and source codes.
const (
	docFormRuns    = 0
	docFormDense   = 1
	docFormSparse  = 2
	docBitEpoch    = 1 << 2
	docBitSource   = 1 << 3
	docBitIntent   = 1 << 4
	docSrcAPI      = 0
	docSrcProp     = 1
	docSrcBench    = 2
	docSrcReplay   = 3
	docSrcLiteral0 = 8 // code 8+len, then the label's bytes
)

func docUv(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func TestEncodingMatchesDeltaDoc(t *testing.T) {
	data16 := []byte("0123456789abcdef")
	cases := []struct {
		name string
		d    Delta
		doc  func() []byte
	}{
		{
			// The doc's worked example, 23 bytes.
			"worked example", Delta{Page: 1000, Runs: []Run{{Offset: 100, Data: data16}}, Source: "api"},
			func() []byte {
				b := []byte{0xe8, 0x07, 0x08, 0x01, 0x64, 0x10}
				b = append(b, data16...)
				return append(b, 0x00)
			},
		},
		{
			"two runs, no source", Delta{Page: 5, Runs: []Run{{Offset: 300, Data: []byte("ab")}, {Offset: 0, Data: []byte("c")}}},
			func() []byte {
				b := docUv(nil, 5)
				b = append(b, docFormRuns)
				b = docUv(b, 2)
				b = docUv(docUv(b, 300), 2)
				b = append(b, "ab"...)
				b = docUv(docUv(b, 0), 1)
				return append(b, 'c')
			},
		},
		{
			"dense mask, literal source, intent, epoch check",
			Delta{Page: 7, Form: FormMaskedDense, MaskLen: 10, Mask: []byte{0x05, 0x02}, Payload: []byte("0123456789"),
				Source: "mylabel", Intent: []byte(`{"x":1}`), CheckEpoch: true, ExpectEpoch: 300},
			func() []byte {
				b := docUv(nil, 7)
				b = append(b, docFormDense|docBitEpoch|docBitSource|docBitIntent)
				b = docUv(b, 10)               // MaskLen
				b = append(b, 0x05, 0x02)      // ceil(10/8) = 2 mask bytes
				b = docUv(b, 10)               // payload length
				b = append(b, "0123456789"...) // payload
				b = docUv(b, docSrcLiteral0+7) // source: 8+len, then the bytes
				b = append(b, "mylabel"...)    //
				b = docUv(b, 7)                // intent length
				b = append(b, `{"x":1}`...)    //
				return docUv(b, 300)           // expected epoch, last
			},
		},
		{
			"sparse mask, well-known sources",
			Delta{Page: 1 << 40, Form: FormMaskedSparse, MaskLen: 3, Mask: []byte{0x05}, Payload: []byte("xy"), Source: "replay"},
			func() []byte {
				b := docUv(nil, 1<<40)
				b = append(b, docFormSparse|docBitSource)
				b = docUv(b, 3)
				b = append(b, 0x05)
				b = docUv(b, 2)
				b = append(b, "xy"...)
				return append(b, docSrcReplay)
			},
		},
	}
	for _, src := range []struct {
		label string
		code  byte
	}{{"api", docSrcAPI}, {"propagation", docSrcProp}, {"bench", docSrcBench}, {"replay", docSrcReplay}} {
		cases = append(cases, struct {
			name string
			d    Delta
			doc  func() []byte
		}{"source " + src.label, Delta{Page: 1, Runs: []Run{{Offset: 0, Data: []byte{9}}}, Source: src.label, CheckEpoch: true, ExpectEpoch: 2},
			func() []byte { return []byte{1, docFormRuns | docBitEpoch | docBitSource, 1, 0, 1, 9, src.code, 2} }})
	}
	for _, c := range cases {
		doc := c.doc()
		if enc := AppendEncode(nil, &c.d); !bytes.Equal(enc, doc) {
			t.Errorf("%s: AppendEncode writes % x\n  the doc's layout is % x", c.name, enc, doc)
		}
		var got Delta
		n, err := Decode(doc, &got)
		if err != nil {
			t.Errorf("%s: Decode refuses the doc's layout: %v", c.name, err)
			continue
		}
		if n != len(doc) {
			t.Errorf("%s: Decode consumed %d of the doc's %d bytes", c.name, n, len(doc))
		}
		if !reflect.DeepEqual(got, c.d) {
			t.Errorf("%s: decoded %+v\n  want %+v", c.name, got, c.d)
		}
	}
	if len(cases[0].doc()) != 23 {
		t.Errorf("the worked example is %d bytes, the doc says 23", len(cases[0].doc()))
	}
	if FormatVersion != 1 {
		t.Errorf("FormatVersion %d, the doc says 1", FormatVersion)
	}
}
