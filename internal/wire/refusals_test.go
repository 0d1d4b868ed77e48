package wire_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// TestDeltaFromProtoRefusals: each structural refusal of DeltaFromProto,
// one row per field a form does not carry, on a valid wire delta of that
// form with the one field added. Without these rows, removing either
// "carries no" check failed no test of the package: the server would have
// applied a runs delta and silently dropped the mask or payload sent with
// it.
func TestDeltaFromProtoRefusals(t *testing.T) {
	runs := func() *mmsbv1.Delta {
		d := mmsb.Write(1, 2, []byte("ab"))
		return wire.DeltaToProto(&d)
	}
	masked := func(form mmsbv1.DeltaForm) *mmsbv1.Delta {
		return &mmsbv1.Delta{Page: 1, Form: form, Mask: []byte{1}, MaskLen: 8, Payload: []byte{7}}
	}
	for _, base := range []*mmsbv1.Delta{runs(), masked(mmsbv1.DeltaForm_DELTA_FORM_MASKED_DENSE), masked(mmsbv1.DeltaForm_DELTA_FORM_MASKED_SPARSE)} {
		if _, err := wire.DeltaFromProto(base, "", nil); err != nil {
			t.Fatalf("the valid %v delta: %v", base.GetForm(), err)
		}
	}
	cases := []struct {
		name  string
		delta *mmsbv1.Delta
		want  string
	}{
		{"runs delta with a mask", with(runs(), func(p *mmsbv1.Delta) { p.Mask = []byte{1} }), "a runs delta carries no mask or payload"},
		{"runs delta with a payload", with(runs(), func(p *mmsbv1.Delta) { p.Payload = []byte{1} }), "a runs delta carries no mask or payload"},
		{"runs delta with a mask length", with(runs(), func(p *mmsbv1.Delta) { p.MaskLen = 8 }), "a runs delta carries no mask or payload"},
		{"dense delta with runs", with(masked(mmsbv1.DeltaForm_DELTA_FORM_MASKED_DENSE), func(p *mmsbv1.Delta) {
			p.Runs = []*mmsbv1.Run{{Off: 0, Data: []byte{1}}}
		}), "a masked delta carries no runs"},
		{"sparse delta with runs", with(masked(mmsbv1.DeltaForm_DELTA_FORM_MASKED_SPARSE), func(p *mmsbv1.Delta) {
			p.Runs = []*mmsbv1.Run{{Off: 0, Data: []byte{1}}}
		}), "a masked delta carries no runs"},
		{"unknown form", with(runs(), func(p *mmsbv1.Delta) { p.Form = 99 }), "unknown delta form 99"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := wire.DeltaFromProto(c.delta, "", nil)
			if !errors.Is(err, mmsb.ErrInvalidDelta) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("DeltaFromProto: %v, want ErrInvalidDelta naming %q", err, c.want)
			}
		})
	}
}

// TestEdgeTypeFromProtoRefusesUnknown: a wire edge type past the known
// ones is refused (without the check it was taken as the data edge).
func TestEdgeTypeFromProtoRefusesUnknown(t *testing.T) {
	for _, typ := range []mmsbv1.EdgeType{mmsbv1.EdgeType_EDGE_TYPE_COMPILER + 1, 255, -1} {
		if got, err := wire.EdgeTypeFromProto(typ); !errors.Is(err, mmsb.ErrInvalidOption) || !strings.Contains(err.Error(), "unknown edge type") {
			t.Errorf("EdgeTypeFromProto(%d) = %v, %v; want ErrInvalidOption", typ, got, err)
		}
	}
	if got, err := wire.EdgeTypeFromProto(mmsbv1.EdgeType_EDGE_TYPE_COMPILER); err != nil || got != mmsb.EdgeCompiler {
		t.Errorf("the compiler edge type: %v, %v", got, err)
	}
}

func with(p *mmsbv1.Delta, change func(*mmsbv1.Delta)) *mmsbv1.Delta {
	p = proto.Clone(p).(*mmsbv1.Delta)
	change(p)
	return p
}
