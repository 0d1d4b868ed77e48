package server_test

import (
	"context"
	"math"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// TestLimitsAtUint32Max: request limits at the top of their uint32 field
// mean "as many as there are" on every platform. On a 32-bit one
// (GOARCH=386, the control) int(limit) of 2^31 or more was negative: a
// ListPages answered no page at all and a QueryLog stopped after one
// operation. (A Provenance range there named an offset of -16 for
// 4294967280: TestBadInput's "provenance range past 4 GiB" under 386.)
func TestLimitsAtUint32Max(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	ids, err := f.bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
			t.Fatal(err)
		}
	}
	rpc := mmsbv1connect.NewBusServiceClient(http.DefaultClient, f.http.URL)
	lp, err := rpc.ListPages(ctx, connect.NewRequest(&mmsbv1.ListPagesRequest{Limit: math.MaxUint32}))
	if err != nil || len(lp.Msg.GetPages()) != len(ids) {
		t.Fatalf("ListPages with limit 2^32-1: %d pages, %v; want all %d", len(lp.Msg.GetPages()), err, len(ids))
	}
	stream, err := rpc.QueryLog(ctx, connect.NewRequest(&mmsbv1.QueryLogRequest{Limit: math.MaxUint32}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	n := 0
	for stream.Receive() {
		n += len(stream.Msg().GetOps())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if want := int(f.bus.LastLSN()); n != want {
		t.Fatalf("QueryLog with limit 2^32-1: %d operations, want all %d", n, want)
	}
}
