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
// ErrBadResponse or mmsb.ErrInvalidDelta), a delta where the kind has none
// or none where it has one, and a delta of another page than the
// operation's (ErrBadResponse); what it accepts is wire.OpFromProto's
// operation. The seeds hold one accepted operation of each sort and five
// refused ones (an unknown kind, a delta of an unknown form, a delta
// operation without a delta, a meta operation with one, a delta of page 3
// in an operation on page 4: accepted before 2026-12-04).
func FuzzQueryLogOp(f *testing.F) {
	d := mmsb.Write(3, 2, []byte("ab"))
	for _, p := range []*mmsbv1.Op{
		wire.OpToProto(&mmsb.LoggedOp{LSN: 7, Time: 9, Op: &mmsb.Op{Kind: mmsb.OpDelta, Delta: d}}),
		wire.OpToProto(&mmsb.LoggedOp{LSN: 8, Op: &mmsb.Op{Kind: mmsb.OpCreatePage, Page: 3, Size: 16}}),
		wire.OpToProto(&mmsb.LoggedOp{LSN: 9, Op: &mmsb.Op{Kind: mmsb.OpAddEdge, Parent: 1, Child: 3, EdgeType: mmsb.EdgeControl}}),
		{Lsn: 10, Kind: "teleport", Page: 1},
		{Lsn: 11, Kind: "delta", Page: 1, Delta: &mmsbv1.Delta{Page: 1, Form: 7}},
		{Lsn: 12, Kind: "delta", Page: 3},
		{Lsn: 13, Kind: "meta", Page: 3, Delta: wire.DeltaToProto(&d)},
		{Lsn: 14, Kind: "derived", Page: 4, Delta: wire.DeltaToProto(&d)},
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
		kind, known := wire.OpKinds[p.GetKind()]
		hasDelta := p.GetDelta() != nil
		var derr error
		var d mmsb.Delta
		if hasDelta {
			d, derr = wire.DeltaFromProto(p.GetDelta(), "", nil)
		}
		switch {
		case !known:
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("kind %q: want ErrBadResponse, got %v", p.GetKind(), err)
			}
		case (kind == mmsb.OpDelta || kind == mmsb.OpDerived) != hasDelta:
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("kind %q with a delta %v: want ErrBadResponse, got %v", p.GetKind(), hasDelta, err)
			}
		case derr != nil:
			if !errors.Is(err, mmsb.ErrInvalidDelta) {
				t.Fatalf("undecodable delta (%v): want ErrInvalidDelta, got %v", derr, err)
			}
		case hasDelta && uint64(d.Page) != p.GetPage():
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("operation on page %d with a delta of page %d: want ErrBadResponse, got %v", p.GetPage(), d.Page, err)
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
