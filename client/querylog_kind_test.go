package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestQueryLogBadKind: a query the bus refuses with mmsb.ErrInvalidOption
// is refused so through the client too, so that errors.Is holds as with
// an embedded bus: a kind that is none (the client's check; until
// 2026-12-06 the server's InvalidArgument named no sentinel) and a ToTime
// before FromTime (the bus's, named by the server). The control: a valid
// query of the same client is answered.
func TestQueryLogBadKind(t *testing.T) {
	ctx := context.Background()
	bus, c, _ := waveBus(t)
	all := func(*mmsb.LoggedOp) bool { return true }
	for _, q := range []mmsb.LogQuery{{Kinds: []mmsb.OpKind{mmsb.OpDelta, 99}}, {Kinds: []mmsb.OpKind{0}}, {FromTime: 5, ToTime: 4}} {
		want := bus.QueryLog(ctx, q, all)
		err := c.QueryLog(ctx, q, all)
		if !errors.Is(want, mmsb.ErrInvalidOption) || !errors.Is(err, mmsb.ErrInvalidOption) {
			t.Fatalf("query %+v: the client's %v, the bus's %v: want both mmsb.ErrInvalidOption", q, err, want)
		}
		if len(q.Kinds) > 0 && !strings.Contains(err.Error(), "not an operation kind") {
			t.Fatalf("query %+v: %v does not say which kind", q, err)
		}
	}
	if err := c.QueryLog(ctx, mmsb.LogQuery{Kinds: []mmsb.OpKind{mmsb.OpWave}}, all); err != nil {
		t.Fatalf("control: %v", err)
	}
}
