package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// TestQueryLogRefusesUnmatchedOps: an operation the query does not ask
// for (another page, kind, source, or outside its LSN or time range)
// ends QueryLog with ErrBadResponse naming it, after the ones before it
// were delivered. Until 2026-12-06 it reached fn: an application reading
// page 1's history got page 2's write. Each case's control, the same
// answer to a query that asks for it, is delivered whole.
func TestQueryLogRefusesUnmatchedOps(t *testing.T) {
	write := func(lsn uint64, page mmsb.PageID, source string) *mmsbv1.Op {
		d := mmsb.Write(page, 0, []byte("x"))
		d.Source = source
		return wire.OpToProto(&mmsb.LoggedOp{LSN: mmsb.LSN(lsn), Time: int64(100 * lsn), Op: &mmsb.Op{Kind: mmsb.OpDelta, Delta: d}})
	}
	edge := &mmsbv1.Op{Lsn: 3, Time: 300, Kind: "add-edge", Parent: 1, Child: 2, EdgeType: "data"}
	wave := &mmsbv1.Op{Lsn: 3, Time: 300, Kind: "wave"}
	for _, tc := range []struct {
		name     string
		ops      []*mmsbv1.Op
		q, match mmsb.LogQuery // q: refused; match: the control
		says     string
	}{
		{"another page", []*mmsbv1.Op{write(2, 1, "a"), write(3, 2, "a")},
			mmsb.LogQuery{Page: 1}, mmsb.LogQuery{}, "not of page 1"},
		{"a wave for a page", []*mmsbv1.Op{write(2, 1, "a"), wave},
			mmsb.LogQuery{Page: 1}, mmsb.LogQuery{Kinds: []mmsb.OpKind{mmsb.OpDelta, mmsb.OpWave}}, "not of page 1"},
		{"an edge of neither end", []*mmsbv1.Op{write(2, 3, "a"), edge},
			mmsb.LogQuery{Page: 3}, mmsb.LogQuery{FromLSN: 1, ToLSN: 3}, "not of page 3"},
		{"another kind", []*mmsbv1.Op{write(2, 1, "a"), edge},
			mmsb.LogQuery{Kinds: []mmsb.OpKind{mmsb.OpDelta}}, mmsb.LogQuery{Kinds: []mmsb.OpKind{mmsb.OpAddEdge, mmsb.OpDelta}}, "of kind add-edge"},
		{"another source", []*mmsbv1.Op{write(2, 1, "a"), write(3, 1, "b")},
			mmsb.LogQuery{Source: "a"}, mmsb.LogQuery{Page: 1}, `not of source "a"`},
		{"past ToLSN", []*mmsbv1.Op{write(2, 1, "a"), write(3, 1, "a")},
			mmsb.LogQuery{FromLSN: 2, ToLSN: 2}, mmsb.LogQuery{FromLSN: 2, ToLSN: 3}, "outside LSNs 2..2"},
		{"before FromTime", []*mmsbv1.Op{write(2, 1, "a"), write(3, 1, "a")},
			mmsb.LogQuery{ToTime: 250}, mmsb.LogQuery{FromTime: 200, ToTime: 300}, "at time 300"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, h := mmsbv1connect.NewBusServiceHandler(logServer{ops: tc.ops})
			hs := httptest.NewServer(h)
			defer hs.Close()
			c, err := client.New(hs.URL, client.WithRetries(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			n := 0
			count := func(*mmsb.LoggedOp) bool { n++; return true }
			err = c.QueryLog(context.Background(), tc.q, count)
			if !errors.Is(err, client.ErrBadResponse) || !strings.Contains(err.Error(), tc.says) || n != 1 {
				t.Fatalf("QueryLog: %d operations delivered, then %v; want 1, then ErrBadResponse saying %q", n, err, tc.says)
			}
			n = 0
			if err := c.QueryLog(context.Background(), tc.match, count); err != nil || n != len(tc.ops) {
				t.Fatalf("control: %d operations delivered of %d, %v", n, len(tc.ops), err)
			}
		})
	}
}

// pageWatchServer answers every Watch with changes, then ends the stream
// with an error the client does not resume.
type pageWatchServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	changes []*mmsbv1.Change
}

func (s pageWatchServer) Watch(_ context.Context, _ *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	if err := stream.Send(&mmsbv1.WatchResponse{Changes: s.changes, ProgressLsn: s.changes[len(s.changes)-1].GetLsn()}); err != nil {
		return err
	}
	return connect.NewError(connect.CodeFailedPrecondition, errors.New("no more"))
}

// TestWatchRefusesUnselectedPage: a change of a page the watch does not
// select ends Watch with ErrBadResponse naming it, and nothing of its
// message is delivered. Until 2026-12-06 it was delivered: an application
// watching page 1, applying each change's delta to its copy of page 1,
// applied page 2's bytes. The control, the same message to a watch that
// selects both pages (by page, by range, or every page), is delivered.
func TestWatchRefusesUnselectedPage(t *testing.T) {
	d1, d2 := mmsb.Write(1, 0, []byte("a")), mmsb.Write(2, 0, []byte("b"))
	changes := []*mmsbv1.Change{
		{Lsn: 4, Page: 1, Kind: "delta", Delta: wire.DeltaToProto(&d1), Epoch: 1},
		{Lsn: 5, Page: 2, Kind: "delta", Delta: wire.DeltaToProto(&d2), Epoch: 1},
		{Lsn: 6, Page: 0, Kind: "wave"},
	}
	c := fakeClient(t, pageWatchServer{changes: changes})
	watch := func(opts client.WatchOptions) (int, error) {
		n := 0
		opts.MaxReconnects = 1
		err := c.Watch(context.Background(), opts, func(ev client.WatchEvent) error {
			n += len(ev.Changes)
			return nil
		})
		return n, err
	}
	for _, tc := range []struct {
		opts client.WatchOptions
		says string
	}{
		{client.WatchOptions{Pages: []mmsb.PageID{1}}, "page 2, which the watch does not select"},
		{client.WatchOptions{Pages: []mmsb.PageID{2, 1}}, "page 0, which the watch does not select"},
		{client.WatchOptions{Ranges: [][2]mmsb.PageID{{1, 1}, {3, 9}}}, "page 2, which"},
		{client.WatchOptions{Pages: []mmsb.PageID{0}, Ranges: [][2]mmsb.PageID{{2, 5}}}, "page 1, which"},
	} {
		n, err := watch(tc.opts)
		if !errors.Is(err, client.ErrBadResponse) || !strings.Contains(err.Error(), tc.says) || n != 0 {
			t.Fatalf("watch of %v %v: %d changes delivered, then %v; want none, and ErrBadResponse saying %q", tc.opts.Pages, tc.opts.Ranges, n, err, tc.says)
		}
	}
	for _, opts := range []client.WatchOptions{
		{},
		{Pages: []mmsb.PageID{2, 0, 1}},
		{Ranges: [][2]mmsb.PageID{{1, 1}, {0, 0}, {2, 2}}},
		{Pages: []mmsb.PageID{1}, Ranges: [][2]mmsb.PageID{{0, 0}, {2, 7}}},
	} {
		n, err := watch(opts)
		if connect.CodeOf(err) != connect.CodeFailedPrecondition || n != len(changes) {
			t.Fatalf("control: watch of %v %v: %d changes delivered, then %v; want %d, then the server's FailedPrecondition", opts.Pages, opts.Ranges, n, err, len(changes))
		}
	}
}

// TestQueryLogMatchesBus: against a real server, the client's check of
// what each operation must match refuses nothing the bus's own QueryLog
// gives: by page (an edge by either end), kind, source, LSN and time, the
// client delivers the same operations as the bus.
func TestQueryLogMatchesBus(t *testing.T) {
	ctx := context.Background()
	bus, c, _ := waveBus(t) // pages 1 and 2, 2 bound to 1, one wave
	ids, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 1}, {Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddEdge(ctx, ids[0], ids[1], mmsb.EdgeControl); err != nil {
		t.Fatal(err)
	}
	d := mmsb.Write(ids[1], 0, []byte{7})
	d.Source = "sensor"
	if _, err := c.Commit(ctx, []mmsb.Delta{d}); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveEdges(ctx, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	var all []mmsb.LoggedOp
	_ = bus.QueryLog(ctx, mmsb.LogQuery{}, func(op *mmsb.LoggedOp) bool { all = append(all, *op); return true })
	mid := all[len(all)/2]
	queries := []mmsb.LogQuery{{}, {Source: "sensor"}, {FromLSN: 3, ToLSN: mid.LSN}, {FromTime: mid.Time},
		{Kinds: []mmsb.OpKind{mmsb.OpAddEdge, mmsb.OpRemoveEdge, mmsb.OpWave}}}
	for p := range ids[1] + 2 {
		queries = append(queries, mmsb.LogQuery{Page: p})
	}
	for _, q := range queries {
		var want, got []mmsb.LSN
		if err := bus.QueryLog(ctx, q, func(op *mmsb.LoggedOp) bool { want = append(want, op.LSN); return true }); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryLog(ctx, q, func(op *mmsb.LoggedOp) bool { got = append(got, op.LSN); return true }); err != nil {
			t.Fatalf("query %+v: %v", q, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("query %+v: the client delivered LSNs %v, the bus %v", q, got, want)
		}
	}
}
