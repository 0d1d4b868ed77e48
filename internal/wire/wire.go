// Package wire converts between the network messages of mmsb.v1 and the
// bus's public types, for the server and the Go client alike.
package wire

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// DeltaFromProto converts a wire delta. Structural problems (unknown form)
// are reported here; everything else is the bus's validation, so that the
// network and the library refuse exactly the same deltas.
func DeltaFromProto(p *mmsbv1.Delta, defSource string, defIntent []byte) (mmsb.Delta, error) {
	return deltaFromProto(p, defSource, defIntent, nil)
}

// DeltasFromProto converts a batch like DeltaFromProto, with one
// allocation for the deltas and one for all their runs. On error it
// returns the index of the delta at fault.
func DeltasFromProto(ps []*mmsbv1.Delta, defSource string, defIntent []byte) ([]mmsb.Delta, int, error) {
	n := 0
	for _, p := range ps {
		n += len(p.GetRuns())
	}
	slab := make([]mmsb.Run, n)
	ds := make([]mmsb.Delta, len(ps))
	for i, p := range ps {
		k := len(p.GetRuns())
		d, err := deltaFromProto(p, defSource, defIntent, slab[:k:k])
		if err != nil {
			return nil, i, err
		}
		ds[i], slab = d, slab[k:]
	}
	return ds, 0, nil
}

// deltaFromProto converts p; runs, when not nil, has room for p's runs.
func deltaFromProto(p *mmsbv1.Delta, defSource string, defIntent []byte, runs []mmsb.Run) (mmsb.Delta, error) {
	d := mmsb.Delta{Page: mmsb.PageID(p.GetPage())}
	switch p.GetForm() {
	case mmsbv1.DeltaForm_DELTA_FORM_RUNS:
		d.Form = mmsb.FormRuns
		if len(p.GetMask()) > 0 || len(p.GetPayload()) > 0 || p.GetMaskLen() != 0 {
			return d, fmt.Errorf("%w: page %d: a runs delta carries no mask or payload", mmsb.ErrInvalidDelta, p.GetPage())
		}
		d.Runs = runs
		if d.Runs == nil {
			d.Runs = make([]mmsb.Run, len(p.GetRuns()))
		}
		for i, r := range p.GetRuns() {
			d.Runs[i] = mmsb.Run{Offset: r.GetOff(), Data: r.GetData()}
		}
	case mmsbv1.DeltaForm_DELTA_FORM_MASKED_DENSE, mmsbv1.DeltaForm_DELTA_FORM_MASKED_SPARSE:
		d.Form = mmsb.FormMaskedDense
		if p.GetForm() == mmsbv1.DeltaForm_DELTA_FORM_MASKED_SPARSE {
			d.Form = mmsb.FormMaskedSparse
		}
		if len(p.GetRuns()) > 0 {
			return d, fmt.Errorf("%w: page %d: a masked delta carries no runs", mmsb.ErrInvalidDelta, p.GetPage())
		}
		d.Mask, d.MaskLen, d.Payload = p.GetMask(), p.GetMaskLen(), p.GetPayload()
	default:
		return d, fmt.Errorf("%w: page %d: unknown delta form %d", mmsb.ErrInvalidDelta, p.GetPage(), p.GetForm())
	}
	d.Source, d.Intent = p.GetSource(), p.GetIntent()
	if d.Source == "" {
		d.Source = defSource
	}
	if len(d.Intent) == 0 {
		d.Intent = defIntent
	}
	if p.ExpectEpoch != nil {
		d.CheckEpoch, d.ExpectEpoch = true, mmsb.Epoch(p.GetExpectEpoch())
	}
	return d, nil
}

// DeltaToProto converts a delta (copying its slices, which may alias a log
// reader's buffer).
func DeltaToProto(d *mmsb.Delta) *mmsbv1.Delta {
	p := &mmsbv1.Delta{Page: uint64(d.Page), Source: ValidText(d.Source), Intent: Clone(d.Intent)}
	switch d.Form {
	case mmsb.FormMaskedDense:
		p.Form = mmsbv1.DeltaForm_DELTA_FORM_MASKED_DENSE
	case mmsb.FormMaskedSparse:
		p.Form = mmsbv1.DeltaForm_DELTA_FORM_MASKED_SPARSE
	}
	if d.Form == mmsb.FormRuns {
		p.Runs = make([]*mmsbv1.Run, len(d.Runs))
		for i, r := range d.Runs {
			p.Runs[i] = &mmsbv1.Run{Off: r.Offset, Data: Clone(r.Data)}
		}
	} else {
		p.Mask, p.MaskLen, p.Payload = Clone(d.Mask), d.MaskLen, Clone(d.Payload)
	}
	p.ExpectEpoch = expectEpoch(d)
	return p
}

// expectEpoch is the wire form of a delta's epoch check: nil when it has
// none (DeltaFromProto reads it back as CheckEpoch).
func expectEpoch(d *mmsb.Delta) *uint64 {
	if !d.CheckEpoch {
		return nil
	}
	e := uint64(d.ExpectEpoch)
	return &e
}

// DeltasToProtoAliased converts a batch for a request that is sent before
// ds changes: the messages alias ds's bytes (no copies), and the deltas,
// runs and run pointers each come from one allocation for the batch.
func DeltasToProtoAliased(ds []mmsb.Delta) []*mmsbv1.Delta {
	n := 0
	for i := range ds {
		if ds[i].Form == mmsb.FormRuns {
			n += len(ds[i].Runs)
		}
	}
	msgs := make([]mmsbv1.Delta, len(ds))
	runs := make([]mmsbv1.Run, n)
	ptrs := make([]*mmsbv1.Run, n)
	out := make([]*mmsbv1.Delta, len(ds))
	for i := range ds {
		d, p := &ds[i], &msgs[i]
		p.Page, p.Source, p.Intent = uint64(d.Page), d.Source, d.Intent
		switch d.Form {
		case mmsb.FormRuns:
			k := len(d.Runs)
			p.Runs, ptrs = ptrs[:k:k], ptrs[k:]
			for j, r := range d.Runs {
				runs[j] = mmsbv1.Run{Off: r.Offset, Data: r.Data}
				p.Runs[j] = &runs[j]
			}
			runs = runs[k:]
		case mmsb.FormMaskedDense:
			p.Form = mmsbv1.DeltaForm_DELTA_FORM_MASKED_DENSE
		case mmsb.FormMaskedSparse:
			p.Form = mmsbv1.DeltaForm_DELTA_FORM_MASKED_SPARSE
		}
		if d.Form != mmsb.FormRuns {
			p.Mask, p.MaskLen, p.Payload = d.Mask, d.MaskLen, d.Payload
		}
		p.ExpectEpoch = expectEpoch(d)
		out[i] = p
	}
	return out
}

// Clone copies b (nil when empty).
func Clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// MetaFromProto converts wire metadata.
func MetaFromProto(ms []*mmsbv1.MetaEntry) []mmsb.MetaEntry {
	if len(ms) == 0 {
		return nil
	}
	out := make([]mmsb.MetaEntry, len(ms))
	for i, m := range ms {
		out[i] = mmsb.MetaEntry{Key: m.GetKey(), Value: m.GetValue()}
	}
	return out
}

// MetaToProto converts metadata, copying values.
func MetaToProto(ms []mmsb.MetaEntry) []*mmsbv1.MetaEntry {
	if len(ms) == 0 {
		return nil
	}
	out := make([]*mmsbv1.MetaEntry, len(ms))
	for i, m := range ms {
		out[i] = &mmsbv1.MetaEntry{Key: ValidText(m.Key), Value: Clone(m.Value)}
	}
	return out
}

// EdgeTypeFromProto converts a wire edge type.
func EdgeTypeFromProto(t mmsbv1.EdgeType) (mmsb.EdgeType, error) {
	switch t {
	case mmsbv1.EdgeType_EDGE_TYPE_DATA:
		return mmsb.EdgeData, nil
	case mmsbv1.EdgeType_EDGE_TYPE_CONTROL:
		return mmsb.EdgeControl, nil
	case mmsbv1.EdgeType_EDGE_TYPE_GPU_SYNC:
		return mmsb.EdgeGPUSync, nil
	case mmsbv1.EdgeType_EDGE_TYPE_COMPILER:
		return mmsb.EdgeCompiler, nil
	}
	return 0, fmt.Errorf("%w: unknown edge type %d", mmsb.ErrInvalidOption, t)
}

// OpToProto converts one logged operation (copying what aliases the log).
func OpToProto(lo *mmsb.LoggedOp) *mmsbv1.Op {
	op := lo.Op
	p := &mmsbv1.Op{Lsn: uint64(lo.LSN), Time: lo.Time, Kind: op.Kind.String(), BatchLast: uint64(lo.BatchLast)}
	switch op.Kind {
	case mmsb.OpDelta, mmsb.OpDerived:
		p.Delta = DeltaToProto(&op.Delta)
		p.Page = uint64(op.Delta.Page)
	case mmsb.OpAddEdge, mmsb.OpRemoveEdge:
		p.Parent, p.Child, p.EdgeType = uint64(op.Parent), uint64(op.Child), edgeTypeName(op.EdgeType)
	default:
		// Only the fields of the operation's kind: the log reader leaves
		// other kinds' fields as they were.
		p.Page = uint64(op.Page)
		switch op.Kind {
		case mmsb.OpCreatePage:
			p.Size, p.Meta = op.Size, MetaToProto(op.Meta)
		case mmsb.OpSetMeta:
			p.Meta = MetaToProto(op.Meta)
		case mmsb.OpSetFlags:
			p.Flags = uint32(op.Flags)
		case mmsb.OpBind:
			p.Func, p.Params = ValidText(op.Func), Clone(op.Params)
			for _, q := range op.Parents {
				p.Parents = append(p.Parents, uint64(q))
			}
		case mmsb.OpWave:
			// Its kind alone ("wave", page 0): its page sets (Op.Dirty,
			// Op.Held) have no field on the wire.
		}
	}
	return p
}

// OpPage is the page an operation is about (the child for edge operations).
func OpPage(op *mmsb.Op) mmsb.PageID {
	switch op.Kind {
	case mmsb.OpDelta, mmsb.OpDerived:
		return op.Delta.Page
	case mmsb.OpAddEdge, mmsb.OpRemoveEdge:
		return op.Child
	}
	return op.Page
}

// OpKinds maps OpKind.String() back, for QueryLog's kinds filter.
var OpKinds = func() map[string]mmsb.OpKind {
	m := map[string]mmsb.OpKind{}
	for _, k := range []mmsb.OpKind{mmsb.OpDelta, mmsb.OpCreatePage, mmsb.OpFreePage, mmsb.OpSetMeta,
		mmsb.OpAddEdge, mmsb.OpRemoveEdge, mmsb.OpBind, mmsb.OpUnbind, mmsb.OpSetFlags, mmsb.OpDerived, mmsb.OpWave} {
		m[k.String()] = k
	}
	return m
}()

// EdgeTypeToProto converts an edge type.
func EdgeTypeToProto(t mmsb.EdgeType) mmsbv1.EdgeType {
	switch t {
	case mmsb.EdgeControl:
		return mmsbv1.EdgeType_EDGE_TYPE_CONTROL
	case mmsb.EdgeGPUSync:
		return mmsbv1.EdgeType_EDGE_TYPE_GPU_SYNC
	case mmsb.EdgeCompiler:
		return mmsbv1.EdgeType_EDGE_TYPE_COMPILER
	}
	return mmsbv1.EdgeType_EDGE_TYPE_DATA
}

// OpFromProto converts a wire operation back to a logged operation (the
// client's QueryLog). Unknown kinds and edge types come back as zero.
func OpFromProto(p *mmsbv1.Op) mmsb.LoggedOp {
	op := &mmsb.Op{Kind: OpKinds[p.GetKind()], Page: mmsb.PageID(p.GetPage()), Size: p.GetSize(),
		Meta: MetaFromProto(p.GetMeta()), Flags: uint8(p.GetFlags()), Parent: mmsb.PageID(p.GetParent()),
		Child: mmsb.PageID(p.GetChild()), Func: p.GetFunc(), Params: p.GetParams()}
	if p.GetDelta() != nil {
		d, _ := DeltaFromProto(p.GetDelta(), "", nil)
		op.Delta = d
	}
	for _, q := range p.GetParents() {
		op.Parents = append(op.Parents, mmsb.PageID(q))
	}
	for _, t := range []mmsb.EdgeType{mmsb.EdgeData, mmsb.EdgeControl, mmsb.EdgeGPUSync, mmsb.EdgeCompiler, mmsb.AllEdgeTypes} {
		if edgeTypeName(t) == p.GetEdgeType() {
			op.EdgeType = t
		}
	}
	return mmsb.LoggedOp{LSN: mmsb.LSN(p.GetLsn()), Time: p.GetTime(), Op: op, BatchLast: mmsb.LSN(p.GetBatchLast())}
}

// edgeTypeName names an edge type on the wire ("all" for a removal of
// every type).
func edgeTypeName(t mmsb.EdgeType) string {
	if t == mmsb.AllEdgeTypes {
		return "all"
	}
	return t.String()
}

// ValidText returns s with each byte that is not part of valid UTF-8
// written as \xNN. Answers' string fields (sources, function names,
// metadata keys, the inspector's page types and event texts) hold what
// writers chose, and a protobuf string must be valid UTF-8: the codec
// refuses to encode a message holding one that is not. Over the network
// such a string cannot be written (requests are decoded by the same
// rule), but the Go API and the C binding take any bytes, and one delta
// with the source "src\xfe" failed every QueryLog, Watch and Provenance
// answer that met it with internal: "contains invalid UTF-8"
// (TestInvalidUTF8AnswersEscaped, the inspector's
// TestInvalidUTF8IsShownEscaped).
func ValidText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
