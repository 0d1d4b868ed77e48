package record

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
)

// The byte layouts of docs/formats.md ("Log record payload" and
// "Checkpoint record payloads"), transcribed field by field from the
// doc's tables: the test builds each payload the way the doc says, and
// checks that the encoders write exactly those bytes and the decoders
// read them back to the same values. A change to the code or to the doc
// that is not made to the other fails here.

// docField is one field as the doc's tables name it.
type docField struct {
	enc string // "u8", "uvarint", "varint", "bytes" (uvarint length, then the bytes), "raw"
	v   uint64
	b   []byte
}

func fU8(v uint64) docField     { return docField{enc: "u8", v: v} }
func fUv(v uint64) docField     { return docField{enc: "uvarint", v: v} }
func fVi(v int64) docField      { return docField{enc: "varint", v: uint64(v)} }
func fBytes(b []byte) docField  { return docField{enc: "bytes", b: b} }
func fRaw(b ...byte) docField   { return docField{enc: "raw", b: b} }
func fBlob(s string) docField   { return fBytes([]byte(s)) }
func fRawStr(s string) docField { return fRaw([]byte(s)...) }

func docBytes(t *testing.T, fields ...docField) []byte {
	t.Helper()
	var b []byte
	for _, f := range fields {
		switch f.enc {
		case "u8":
			if f.v > 0xff {
				t.Fatalf("u8 field %d does not fit a byte", f.v)
			}
			b = append(b, byte(f.v))
		case "uvarint":
			b = binary.AppendUvarint(b, f.v)
		case "varint":
			b = binary.AppendVarint(b, int64(f.v))
		case "bytes":
			b = binary.AppendUvarint(b, uint64(len(f.b)))
			b = append(b, f.b...)
		case "raw":
			b = append(b, f.b...)
		default:
			t.Fatalf("unknown field encoding %q", f.enc)
		}
	}
	return b
}

// Kinds and constants as docs/formats.md and docs/delta.md state them.
const (
	docPayloadVersion = 1
	docKindDelta      = 1
	docKindCreate     = 2
	docKindFree       = 3
	docKindMeta       = 4
	docKindAddEdge    = 5
	docKindRemoveEdge = 6
	docKindBind       = 7
	docKindUnbind     = 8
	docKindFlags      = 9
	docKindDerived    = 10

	docEdgeControl     = 1
	docEdgeAllTypes    = 0xFF
	docFlagStale       = 1 << 0
	docFlagIR          = 1 << 2
	docLocationUnified = 2

	docCkptState   = 1
	docCkptPage    = 2
	docCkptEdge    = 3
	docCkptBinding = 4
	docCkptPending = 5
	docCkptRecomp  = 6
	docMaxPending  = 65536
)

// docDelta16 is docs/delta.md's worked example: page 1000, one 16-byte
// run at offset 100, source code src (0 "api", 1 "propagation").
func docDelta16(src byte) []byte {
	b := []byte{0xe8, 0x07, 0x08, 0x01, 0x64, 0x10}
	b = append(b, []byte("0123456789abcdef")...)
	return append(b, src)
}

func TestLogPayloadMatchesFormatsDoc(t *testing.T) {
	meta := []byte{1, 0, 0, 0, 1, 0, 0, 0, 'k', 1, 0, 0, 0, 'v'}
	d := delta.Delta{Page: 1000, Runs: []delta.Run{{Offset: 100, Data: []byte("0123456789abcdef")}}, Source: delta.SourceAPI}
	pd := d
	pd.Source = delta.SourcePropagation
	const when = int64(-1_700_000_000_000_000_123) // negative: a zig-zag varint, not a uvarint
	type opCase struct {
		name string
		doc  []docField // the kind byte and body, as the doc's table lists them
		enc  func([]byte) []byte
		want Op
	}
	cases := []opCase{
		{"delta", []docField{fU8(docKindDelta), fRaw(docDelta16(0)...)},
			func(b []byte) []byte { return AppendDelta(b, &d) },
			Op{Kind: OpDelta, Delta: d}},
		{"create", []docField{fU8(docKindCreate), fUv(300), fUv(70000), fU8(0), fBytes(meta)},
			func(b []byte) []byte { return AppendCreate(b, 300, 70000, base.LocationCPU, meta) },
			Op{Kind: OpCreatePage, Page: 300, Size: 70000, Location: base.LocationCPU, Meta: meta}},
		// A location other than 0, so that an encoder or decoder that
		// drops the byte (writes or reads 0) fails here too.
		{"create, unified location", []docField{fU8(docKindCreate), fUv(301), fUv(64), fU8(docLocationUnified), fBytes(meta)},
			func(b []byte) []byte { return AppendCreate(b, 301, 64, base.LocationUnified, meta) },
			Op{Kind: OpCreatePage, Page: 301, Size: 64, Location: base.LocationUnified, Meta: meta}},
		{"free", []docField{fU8(docKindFree), fUv(300)},
			func(b []byte) []byte { return AppendFree(b, 300) },
			Op{Kind: OpFreePage, Page: 300}},
		{"meta", []docField{fU8(docKindMeta), fUv(129), fBytes(meta)},
			func(b []byte) []byte { return AppendSetMeta(b, 129, meta) },
			Op{Kind: OpSetMeta, Page: 129, Meta: meta}},
		{"add-edge", []docField{fU8(docKindAddEdge), fUv(5), fUv(200), fU8(docEdgeControl)},
			func(b []byte) []byte { return AppendEdge(b, OpAddEdge, 5, 200, uint8(base.EdgeControl)) },
			Op{Kind: OpAddEdge, Parent: 5, Child: 200, EdgeType: uint8(base.EdgeControl)}},
		{"remove-edge", []docField{fU8(docKindRemoveEdge), fUv(5), fUv(200), fU8(docEdgeAllTypes)},
			func(b []byte) []byte { return AppendEdge(b, OpRemoveEdge, 5, 200, AllEdgeTypes) },
			Op{Kind: OpRemoveEdge, Parent: 5, Child: 200, EdgeType: AllEdgeTypes}},
		{"bind", []docField{fU8(docKindBind), fUv(9), fBlob("f64.sum"), fBlob("pp"), fUv(2), fUv(300), fUv(4)},
			func(b []byte) []byte { return AppendBind(b, 9, "f64.sum", []byte("pp"), []base.PageID{300, 4}) },
			Op{Kind: OpBind, Page: 9, Func: "f64.sum", Params: []byte("pp"), Parents: []base.PageID{300, 4}}},
		{"unbind", []docField{fU8(docKindUnbind), fUv(9)},
			func(b []byte) []byte { return AppendUnbind(b, 9) },
			Op{Kind: OpUnbind, Page: 9}},
		{"flags", []docField{fU8(docKindFlags), fUv(9), fU8(docFlagStale | docFlagIR)},
			func(b []byte) []byte { return AppendFlags(b, 9, 1|4) },
			Op{Kind: OpSetFlags, Page: 9, Flags: 1 | 4}},
		{"derived", []docField{fU8(docKindDerived), fUv(2), fUv(300), fUv(130), fUv(4), fUv(7), fRaw(docDelta16(1)...)},
			func(b []byte) []byte { return AppendDerived(b, []ParentRead{{300, 130}, {4, 7}}, &pd) },
			Op{Kind: OpDerived, Delta: pd, Reads: []ParentRead{{300, 130}, {4, 7}}}},
	}
	if got := base.LocationCPU; got != 0 {
		t.Fatalf("location CPU is %d, the doc's create example writes 0", got)
	}
	if uint8(base.EdgeControl) != docEdgeControl {
		t.Fatalf("edge type control is %d, the doc says %d", base.EdgeControl, docEdgeControl)
	}

	// The whole payload: version byte, varint commit time, the operations.
	docPayload := docBytes(t, fU8(docPayloadVersion), fVi(when))
	encPayload := AppendHeader(nil, when)
	for _, c := range cases {
		op := docBytes(t, c.doc...)
		if enc := c.enc(nil); !bytes.Equal(enc, op) {
			t.Errorf("%s: encoder writes % x\n  the doc's layout is % x", c.name, enc, op)
		}
		docPayload = append(docPayload, op...)
		encPayload = c.enc(encPayload)
	}
	if !bytes.Equal(encPayload, docPayload) {
		t.Errorf("payload: encoder writes % x\n  the doc's layout is % x", encPayload, docPayload)
	}
	var dec Decoder
	if err := dec.Reset(docPayload); err != nil {
		t.Fatalf("decoder refuses the doc's payload header: %v", err)
	}
	if dec.Time != when {
		t.Errorf("commit time decoded %d, want %d", dec.Time, when)
	}
	for _, c := range cases {
		var op Op
		if err := dec.Next(&op); err != nil {
			t.Fatalf("%s: decoder refuses the doc's layout: %v", c.name, err)
		}
		if !reflect.DeepEqual(op, c.want) {
			t.Errorf("%s: decoded %+v\n  want %+v", c.name, op, c.want)
		}
	}
	if dec.More() {
		t.Errorf("decoder sees more operations than the doc's payload holds")
	}
}

func TestCheckpointPayloadsMatchFormatsDoc(t *testing.T) {
	if CkptState != docCkptState || CkptPage != docCkptPage || CkptEdge != docCkptEdge || CkptBinding != docCkptBinding || CkptPending != docCkptPending {
		t.Errorf("checkpoint record kinds %d %d %d %d %d, the doc says %d %d %d %d %d",
			CkptState, CkptPage, CkptEdge, CkptBinding, CkptPending, docCkptState, docCkptPage, docCkptEdge, docCkptBinding, docCkptPending)
	}
	if CkptRecompute != docCkptRecomp {
		t.Errorf("the recompute record's kind is %d, the doc says %d", CkptRecompute, docCkptRecomp)
	}
	if MaxPendingPerRecord != docMaxPending {
		t.Errorf("a pending record holds up to %d page IDs, the doc says %d", MaxPendingPerRecord, docMaxPending)
	}

	// state: u8 version, uvarint last LSN, uvarint next ID, varint last
	// commit time, uvarint page, edge and binding counts.
	st := State{LastLSN: 1000, NextID: 301, LastTime: -5, Pages: 3, Edges: 2, Bindings: 1}
	docState := docBytes(t, fU8(docPayloadVersion), fUv(1000), fUv(301), fVi(-5), fUv(3), fUv(2), fUv(1))
	if enc := AppendState(nil, &st); !bytes.Equal(enc, docState) {
		t.Errorf("state: encoder writes % x\n  the doc's layout is % x", enc, docState)
	}
	if got, err := DecodeState(docState); err != nil || got != st {
		t.Errorf("state: decoded %+v, %v; want %+v", got, err, st)
	}

	// page: uvarint ID, uvarint size, u8 location, u8 flags, uvarint epoch,
	// uvarint last-write LSN, uvarint metadata length and blob, uvarint
	// lead, uvarint n, n bytes [lead, lead+n).
	meta := []byte{1, 0, 0, 0, 1, 0, 0, 0, 'k', 1, 0, 0, 0, 'v'}
	data := make([]byte, 10000)
	copy(data[5000:], "wxyz")
	pg := PageImage{ID: 300, Size: 10000, Location: base.LocationCPU, Flags: 2, Epoch: 17, LastLSN: 999, Meta: meta, Data: data}
	docPage := docBytes(t, fUv(300), fUv(10000), fU8(0), fU8(2), fUv(17), fUv(999), fBytes(meta), fUv(5000), fUv(4), fRawStr("wxyz"))
	if enc := AppendPage(nil, &pg); !bytes.Equal(enc, docPage) {
		t.Errorf("page: encoder writes % x\n  the doc's layout is % x", enc, docPage)
	}
	var got PageImage
	if err := DecodePage(docPage, &got); err != nil {
		t.Fatalf("page: decoder refuses the doc's layout: %v", err)
	}
	if got.ID != pg.ID || got.Size != pg.Size || got.Location != pg.Location || got.Flags != pg.Flags ||
		got.Epoch != pg.Epoch || got.LastLSN != pg.LastLSN || !bytes.Equal(got.Meta, meta) || !bytes.Equal(got.Data, data) {
		t.Errorf("page: decoded %+v (data equal: %v), want %+v", got, bytes.Equal(got.Data, data), pg)
	}
	// A never-written page stores n = ceil(size/4096) zero bytes: the
	// last ones (lead = size - n).
	zero := PageImage{ID: 301, Size: 10000, Data: make([]byte, 10000)}
	docZero := docBytes(t, fUv(301), fUv(10000), fU8(0), fU8(0), fUv(0), fUv(0), fBytes(nil), fUv(10000-3), fUv(3), fRaw(0, 0, 0))
	if enc := AppendPage(nil, &zero); !bytes.Equal(enc, docZero) {
		t.Errorf("never-written page: encoder writes % x\n  the doc's layout is % x", enc, docZero)
	}

	// edge and binding records: one add-edge and one bind operation.
	docEdge := docBytes(t, fU8(docKindAddEdge), fUv(5), fUv(200), fU8(docEdgeControl))
	var op Op
	if err := DecodeOne(docEdge, OpAddEdge, &op); err != nil || op.Parent != 5 || op.Child != 200 || op.EdgeType != docEdgeControl {
		t.Errorf("edge record: decoded %+v, %v", op, err)
	}
	docBind := docBytes(t, fU8(docKindBind), fUv(9), fBlob("f64.sum"), fBytes(nil), fUv(1), fUv(300))
	if err := DecodeOne(docBind, OpBind, &op); err != nil || op.Page != 9 || op.Func != "f64.sum" || !reflect.DeepEqual(op.Parents, []base.PageID{300}) {
		t.Errorf("binding record: decoded %+v, %v", op, err)
	}

	// pending: uvarint count, uvarint first page ID, then the uvarint gap
	// from the page before for each further ID.
	pend := []base.PageID{7, 8, 300, 100000}
	docPend := docBytes(t, fUv(4), fUv(7), fUv(1), fUv(292), fUv(99700))
	if enc := AppendPending(nil, pend); !bytes.Equal(enc, docPend) {
		t.Errorf("pending record: encoder writes % x\n  the doc's layout is % x", enc, docPend)
	}
	if got, err := DecodePending(docPend, nil); err != nil || !reflect.DeepEqual(got, pend) {
		t.Errorf("pending record: decoded %v, %v; want %v", got, err, pend)
	}
}
