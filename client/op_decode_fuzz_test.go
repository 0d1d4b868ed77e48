package client

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// FuzzQueryLogOp: any bytes a server may send as a QueryLog operation
// decode without panicking, and opFromProto refuses exactly what
// wire.OpFromProto would turn into a zero kind or an empty delta (with
// ErrBadResponse or mmsb.ErrInvalidDelta); what it accepts is
// wire.OpFromProto's operation. The seeds hold one accepted operation of
// each sort and two refused ones (an unknown kind, a delta of an unknown
// form).
func FuzzQueryLogOp(f *testing.F) {
	d := mmsb.Write(3, 2, []byte("ab"))
	for _, p := range []*mmsbv1.Op{
		wire.OpToProto(&mmsb.LoggedOp{LSN: 7, Time: 9, Op: &mmsb.Op{Kind: mmsb.OpDelta, Delta: d}}),
		wire.OpToProto(&mmsb.LoggedOp{LSN: 8, Op: &mmsb.Op{Kind: mmsb.OpCreatePage, Page: 3, Size: 16}}),
		wire.OpToProto(&mmsb.LoggedOp{LSN: 9, Op: &mmsb.Op{Kind: mmsb.OpAddEdge, Parent: 1, Child: 3, EdgeType: mmsb.EdgeControl}}),
		{Lsn: 10, Kind: "teleport", Page: 1},
		{Lsn: 11, Kind: "delta", Page: 1, Delta: &mmsbv1.Delta{Page: 1, Form: 7}},
	} {
		seed, err := proto.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p mmsbv1.Op
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		lo, err := opFromProto(&p)
		_, known := wire.OpKinds[p.GetKind()]
		var derr error
		if p.GetDelta() != nil {
			_, derr = wire.DeltaFromProto(p.GetDelta(), "", nil)
		}
		switch {
		case !known:
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("kind %q: want ErrBadResponse, got %v", p.GetKind(), err)
			}
		case derr != nil:
			if !errors.Is(err, mmsb.ErrInvalidDelta) {
				t.Fatalf("undecodable delta (%v): want ErrInvalidDelta, got %v", derr, err)
			}
		case err != nil:
			t.Fatalf("a decodable operation refused: %v", err)
		default:
			want := wire.OpFromProto(&p)
			if !proto.Equal(wire.OpToProto(&lo), wire.OpToProto(&want)) || lo.LSN != want.LSN {
				t.Fatalf("accepted operation differs from wire.OpFromProto's:\n%+v\n%+v", lo, want)
			}
		}
	})
}
