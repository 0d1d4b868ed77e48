package record

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
)

// The round-trip law of the codecs, as FuzzDecode checks it, and the
// negative controls that show the check can fail.

// opEncoder re-encodes one decoded operation (kind byte included).
type opEncoder func(dst []byte, op *Op) []byte

// appendOp encodes op with the package's encoder for its kind.
func appendOp(dst []byte, op *Op) []byte {
	switch op.Kind {
	case OpDelta:
		return AppendDelta(dst, &op.Delta)
	case OpDerived:
		return AppendDerived(dst, op.Reads, &op.Delta)
	case OpCreatePage:
		return AppendCreate(dst, op.Page, op.Size, op.Location, op.Meta)
	case OpFreePage:
		return AppendFree(dst, op.Page)
	case OpSetMeta:
		return AppendSetMeta(dst, op.Page, op.Meta)
	case OpAddEdge, OpRemoveEdge:
		return AppendEdge(dst, op.Kind, op.Parent, op.Child, op.EdgeType)
	case OpBind:
		return AppendBind(dst, op.Page, op.Func, op.Params, op.Parents)
	case OpUnbind:
		return AppendUnbind(dst, op.Page)
	case OpSetFlags:
		return AppendFlags(dst, op.Page, op.Flags)
	case OpWave:
		return AppendWave(dst, op.Dirty, op.Held)
	}
	panic(fmt.Sprintf("appendOp: decoder returned unknown kind %v", op.Kind))
}

// decodeBatch decodes a whole batch payload into independent copies of its
// operations (Next reuses and aliases; the law compares two decodings).
func decodeBatch(payload []byte) (time int64, ops []Op, err error) {
	var dec Decoder
	if err := dec.Reset(payload); err != nil {
		return 0, nil, err
	}
	for dec.More() {
		var op Op
		if err := dec.Next(&op); err != nil {
			return 0, nil, err
		}
		ops = append(ops, op)
	}
	return dec.Time, ops, nil
}

func encodeBatch(time int64, ops []Op, enc opEncoder) []byte {
	b := AppendHeader(nil, time)
	for i := range ops {
		if ops[i].Kind == OpWave {
			b = AppendWaveHeader(nil, time) // a payload holding a wave op has version 2
			break
		}
	}
	for i := range ops {
		b = enc(b, &ops[i])
	}
	return b
}

// checkBatchRoundTrip checks the law on one payload: if it decodes, its
// re-encoding decodes to the same commit time and operations, and encoding
// those again gives the same bytes. A payload that does not decode passes.
func checkBatchRoundTrip(payload []byte, enc opEncoder) error {
	time, ops, err := decodeBatch(payload)
	if err != nil {
		return nil
	}
	again := encodeBatch(time, ops, enc)
	// The encoders write the shortest form (minimal varints, short
	// sources), and the decoders accept only longer spellings of it: a
	// payload that decodes to more than it holds (a truncated field read
	// as zero) is a refusal lost.
	if len(again) > len(payload) {
		return fmt.Errorf("a %d-byte payload decoded to operations whose encoding takes %d bytes\npayload %x\nre-encoded %x", len(payload), len(again), payload, again)
	}
	time2, ops2, err := decodeBatch(again)
	if err != nil {
		return fmt.Errorf("re-encoding of a valid payload does not decode: %w\npayload %x\nre-encoded %x", err, payload, again)
	}
	if time2 != time {
		return fmt.Errorf("commit time %d re-decoded as %d", time, time2)
	}
	if len(ops2) != len(ops) {
		return fmt.Errorf("%d operations re-decoded as %d", len(ops), len(ops2))
	}
	for i := range ops {
		if err := sameOp(&ops[i], &ops2[i]); err != nil {
			return fmt.Errorf("operation %d (%v): %w\npayload %x\nre-encoded %x", i, ops[i].Kind, err, payload, again)
		}
	}
	if third := encodeBatch(time2, ops2, enc); !bytes.Equal(third, again) {
		return fmt.Errorf("re-encoding is not canonical:\nfirst  %x\nsecond %x", again, third)
	}
	return nil
}

// sameOp compares the fields that op.Kind gives meaning to (Next leaves the
// others as they were).
func sameOp(a, b *Op) error {
	if a.Kind != b.Kind {
		return fmt.Errorf("kind %v became %v", a.Kind, b.Kind)
	}
	var diffs []string
	field := func(name string, equal bool) {
		if !equal {
			diffs = append(diffs, name)
		}
	}
	switch a.Kind {
	case OpDerived:
		field("reads", slicesEqual(a.Reads, b.Reads))
		fallthrough
	case OpDelta:
		if err := sameDelta(&a.Delta, &b.Delta); err != nil {
			return err
		}
	case OpCreatePage:
		field("page", a.Page == b.Page)
		field("size", a.Size == b.Size)
		field("location", a.Location == b.Location)
		field("meta", bytes.Equal(a.Meta, b.Meta))
	case OpFreePage, OpUnbind:
		field("page", a.Page == b.Page)
	case OpSetMeta:
		field("page", a.Page == b.Page)
		field("meta", bytes.Equal(a.Meta, b.Meta))
	case OpAddEdge, OpRemoveEdge:
		field("parent", a.Parent == b.Parent)
		field("child", a.Child == b.Child)
		field("edge type", a.EdgeType == b.EdgeType)
	case OpBind:
		field("page", a.Page == b.Page)
		field("func", a.Func == b.Func)
		field("params", bytes.Equal(a.Params, b.Params))
		field("parents", slicesEqual(a.Parents, b.Parents))
	case OpSetFlags:
		field("page", a.Page == b.Page)
		field("flags", a.Flags == b.Flags)
	case OpWave:
		field("dirty", slicesEqual(a.Dirty, b.Dirty))
		field("held", slicesEqual(a.Held, b.Held))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("fields changed: %v (%+v became %+v)", diffs, *a, *b)
	}
	return nil
}

func sameDelta(a, b *delta.Delta) error {
	ok := a.Page == b.Page && a.Form == b.Form && len(a.Runs) == len(b.Runs) &&
		bytes.Equal(a.Mask, b.Mask) && a.MaskLen == b.MaskLen && bytes.Equal(a.Payload, b.Payload) &&
		a.Source == b.Source && bytes.Equal(a.Intent, b.Intent) &&
		a.CheckEpoch == b.CheckEpoch && a.ExpectEpoch == b.ExpectEpoch
	for i := 0; ok && i < len(a.Runs); i++ {
		ok = a.Runs[i].Offset == b.Runs[i].Offset && bytes.Equal(a.Runs[i].Data, b.Runs[i].Data)
	}
	if !ok {
		return fmt.Errorf("delta changed: %+v became %+v", *a, *b)
	}
	return nil
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkStateRoundTrip is the law for the checkpoint state record.
func checkStateRoundTrip(payload []byte, enc func([]byte, *State) []byte) error {
	st, err := DecodeState(payload)
	if err != nil {
		return nil
	}
	again := enc(nil, &st)
	if len(again) > len(payload) {
		return fmt.Errorf("a %d-byte state record decoded to a state whose encoding takes %d bytes: %x", len(payload), len(again), payload)
	}
	st2, err := DecodeState(again)
	if err != nil {
		return fmt.Errorf("re-encoded state does not decode: %w", err)
	}
	if st2 != st {
		return fmt.Errorf("state %+v re-decoded as %+v", st, st2)
	}
	if third := enc(nil, &st2); !bytes.Equal(third, again) {
		return fmt.Errorf("state re-encoding is not canonical: %x then %x", again, third)
	}
	return nil
}

// checkPageRoundTrip is the law for the checkpoint page record (Data is
// compared expanded: zero trimming is part of the encoding, not the value).
func checkPageRoundTrip(payload []byte, enc func([]byte, *PageImage) []byte) error {
	var p PageImage
	if DecodePage(payload, &p) != nil {
		return nil
	}
	again := enc(nil, &p)
	var p2 PageImage
	if err := DecodePage(again, &p2); err != nil {
		return fmt.Errorf("re-encoded page does not decode: %w", err)
	}
	if p.ID != p2.ID || p.Size != p2.Size || p.Location != p2.Location || p.Epoch != p2.Epoch ||
		p.LastLSN != p2.LastLSN || p.Flags != p2.Flags || !bytes.Equal(p.Meta, p2.Meta) || !bytes.Equal(p.Data, p2.Data) {
		return fmt.Errorf("page %+v re-decoded as %+v", p, p2)
	}
	if third := enc(nil, &p2); !bytes.Equal(third, again) {
		return fmt.Errorf("page re-encoding is not canonical: %x then %x", again, third)
	}
	return nil
}

// TestRoundTripLawCatchesLossyEncoders is the negative control for
// FuzzDecode: an encoder that loses or changes any field must make the law
// fail on the seed batch. (Before the law was written, FuzzDecode only
// decoded, so none of these could have failed it.)
func TestRoundTripLawCatchesLossyEncoders(t *testing.T) {
	lossy := func(kind OpKind, change func(op *Op)) opEncoder {
		return func(dst []byte, op *Op) []byte {
			if op.Kind != kind {
				return appendOp(dst, op)
			}
			c := *op
			change(&c)
			return appendOp(dst, &c)
		}
	}
	cases := []struct {
		name string
		enc  opEncoder
	}{
		{"flags dropped", lossy(OpSetFlags, func(op *Op) { op.Flags = 0 })},
		{"edge reversed", lossy(OpAddEdge, func(op *Op) { op.Parent, op.Child = op.Child, op.Parent })},
		{"remove-edge type narrowed", lossy(OpRemoveEdge, func(op *Op) { op.EdgeType = 0 })},
		{"parent read lost", lossy(OpDerived, func(op *Op) { op.Reads = op.Reads[:1] })},
		{"intent dropped", lossy(OpDelta, func(op *Op) { op.Delta.Intent = nil })},
		{"source dropped", lossy(OpDerived, func(op *Op) { op.Delta.Source = "" })},
		{"bind params dropped", lossy(OpBind, func(op *Op) { op.Params = nil })},
		{"create location changed", lossy(OpCreatePage, func(op *Op) { op.Location++ })},
		{"meta truncated", lossy(OpCreatePage, func(op *Op) { op.Meta = op.Meta[:1] })},
		{"freed page changed", lossy(OpFreePage, func(op *Op) { op.Page++ })},
	}
	payload := sampleBatch()
	if err := checkBatchRoundTrip(payload, appendOp); err != nil {
		t.Fatalf("the real encoders break the law: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := checkBatchRoundTrip(payload, c.enc); err == nil {
				t.Fatal("a lossy encoder passed the round-trip check")
			}
		})
	}

	st := AppendState(nil, &State{LastLSN: 42, NextID: 9, LastTime: -5, Pages: 3, Edges: 2, Bindings: 1})
	if err := checkStateRoundTrip(st, func(dst []byte, s *State) []byte {
		c := *s
		c.Bindings = 0
		return AppendState(dst, &c)
	}); err == nil {
		t.Error("a state encoder that drops the binding count passed")
	}
	pg := AppendPage(nil, &PageImage{ID: 3, Size: 8, Epoch: 8, LastLSN: 40, Flags: 1, Data: []byte{0, 1, 2, 0, 4, 0, 0, 0}})
	if err := checkPageRoundTrip(pg, func(dst []byte, p *PageImage) []byte {
		c := *p
		c.Data = append([]byte{}, p.Data...)
		c.Data[len(c.Data)-1] = 9 // a byte the trimming would have dropped
		return AppendPage(dst, &c)
	}); err == nil {
		t.Error("a page encoder that changes a byte passed")
	}
}

// TestRoundTripNotByteIdentical documents why the law is stated on decoded
// values and not on bytes: a non-minimal varint decodes, and re-encodes in
// its minimal form.
func TestRoundTripNotByteIdentical(t *testing.T) {
	// Header, then a free of page 7 with the ID spelled in two bytes.
	payload := append(AppendHeader(nil, 1), byte(OpFreePage), 0x87, 0x00)
	_, ops, err := decodeBatch(payload)
	if err != nil || len(ops) != 1 || ops[0].Page != base.PageID(7) {
		t.Fatalf("non-minimal varint: %+v, %v", ops, err)
	}
	if again := encodeBatch(1, ops, appendOp); bytes.Equal(again, payload) || len(again) != len(payload)-1 {
		t.Fatalf("re-encoding %x of %x: want the minimal form", again, payload)
	}
	if err := checkBatchRoundTrip(payload, appendOp); err != nil {
		t.Fatal(err)
	}
}
