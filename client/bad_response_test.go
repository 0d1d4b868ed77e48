package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// badAnswerServer answers with what the real server never sends: a
// Commit answer that does not cover the batch, a Watch change and a
// QueryLog operation of an unknown kind, and a QueryLog delta no client
// can decode.
type badAnswerServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	commit *mmsbv1.CommitResponse
	ops    []*mmsbv1.Op
	change *mmsbv1.Change
}

func (s *badAnswerServer) Commit(context.Context, *connect.Request[mmsbv1.CommitRequest]) (*connect.Response[mmsbv1.CommitResponse], error) {
	return connect.NewResponse(s.commit), nil
}

func (s *badAnswerServer) QueryLog(_ context.Context, _ *connect.Request[mmsbv1.QueryLogRequest], stream *connect.ServerStream[mmsbv1.QueryLogResponse]) error {
	return stream.Send(&mmsbv1.QueryLogResponse{Ops: s.ops})
}

func (s *badAnswerServer) Watch(_ context.Context, _ *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	if err := stream.Send(&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{s.change}, ProgressLsn: s.change.GetLsn()}); err != nil {
		return err
	}
	return connect.NewError(connect.CodeFailedPrecondition, errors.New("no more"))
}

// TestBadResponses: each answer that does not match the request is
// refused with an error wrapping client.ErrBadResponse (or, for an
// undecodable delta, mmsb.ErrInvalidDelta) naming what was wrong, and
// nothing of it is delivered. Before, Commit filled LSNs from an answer
// with too few epochs (leaving epochs 0) or the wrong LSN range, and Watch
// and QueryLog delivered an unknown kind as kind 0 and an undecodable
// delta as an empty one; until 2026-12-04 they delivered a delta of
// another page than the change's (or operation's), a delta change without
// its delta and a meta change with one. The negative control is an answer
// that matches: accepted.
func TestBadResponses(t *testing.T) {
	ctx := context.Background()
	two := func() []mmsb.Delta {
		return []mmsb.Delta{mmsb.Write(1, 0, []byte("a")), mmsb.Write(1, 1, []byte("b"))}
	}
	commit := func(c *client.Client) (int, error) {
		ds := two()
		_, err := c.Commit(ctx, ds)
		n := 0
		if ds[0].LSN != 0 {
			n = 1
		}
		return n, err
	}
	queryLog := func(c *client.Client) (int, error) {
		n := 0
		err := c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { n++; return true })
		return n, err
	}
	watch := func(c *client.Client) (int, error) {
		n := 0
		err := c.Watch(ctx, client.WatchOptions{FromLSN: 1, MaxReconnects: 1}, func(ev client.WatchEvent) error {
			n += len(ev.Changes)
			if len(ev.Changes) > 0 {
				return errors.New("delivered")
			}
			return nil
		})
		return n, err
	}
	runs := &mmsbv1.Delta{Page: 1, Runs: []*mmsbv1.Run{{Off: 0, Data: []byte("a")}}}
	cases := []struct {
		name string
		srv  *badAnswerServer
		call func(*client.Client) (int, error)
		want error  // nil: accepted
		says string // in the error
	}{
		{"Commit answered with one epoch for two deltas", &badAnswerServer{commit: &mmsbv1.CommitResponse{FirstLsn: 5, LastLsn: 6, Epochs: []uint64{1}}},
			commit, client.ErrBadResponse, "1 epochs answered for 2 deltas"},
		{"Commit answered with LSNs for three deltas", &badAnswerServer{commit: &mmsbv1.CommitResponse{FirstLsn: 5, LastLsn: 7, Epochs: []uint64{1, 2}}},
			commit, client.ErrBadResponse, "LSNs 5..7"},
		{"Commit answered with no LSN", &badAnswerServer{commit: &mmsbv1.CommitResponse{Epochs: []uint64{1, 2}}},
			commit, client.ErrBadResponse, "LSNs 0..0"},
		{"Commit answered for the batch", &badAnswerServer{commit: &mmsbv1.CommitResponse{FirstLsn: 5, LastLsn: 6, Epochs: []uint64{1, 2}}},
			commit, nil, ""},
		{"QueryLog operation of an unknown kind", &badAnswerServer{ops: []*mmsbv1.Op{{Lsn: 3, Kind: "teleport", Page: 1}}},
			queryLog, client.ErrBadResponse, `LSN 3 has unknown kind "teleport"`},
		{"QueryLog delta of an unknown form", &badAnswerServer{ops: []*mmsbv1.Op{{Lsn: 3, Kind: "delta", Page: 1, Delta: &mmsbv1.Delta{Page: 1, Form: 7}}}},
			queryLog, mmsb.ErrInvalidDelta, "LSN 3"},
		{"QueryLog delta that decodes", &badAnswerServer{ops: []*mmsbv1.Op{{Lsn: 3, Kind: "delta", Page: 1, Delta: runs}}},
			queryLog, nil, ""},
		{"Watch change of an unknown kind", &badAnswerServer{change: &mmsbv1.Change{Lsn: 4, Page: 1, Kind: "teleport"}},
			watch, client.ErrBadResponse, `LSN 4 has unknown kind "teleport"`},
		{"Watch change of a known kind", &badAnswerServer{change: &mmsbv1.Change{Lsn: 4, Page: 1, Kind: "meta"}},
			watch, nil, ""},
		// Before 2026-12-04: delivered, a delta of page 1 as a change of page 2.
		{"Watch change whose delta names another page", &badAnswerServer{change: &mmsbv1.Change{Lsn: 4, Page: 2, Kind: "delta", Delta: runs}},
			watch, client.ErrBadResponse, "LSN 4 names page 2 and carries a delta of page 1"},
		// Before 2026-12-04: delivered with a nil Delta.
		{"Watch delta change without a delta", &badAnswerServer{change: &mmsbv1.Change{Lsn: 4, Page: 1, Kind: "derived"}},
			watch, client.ErrBadResponse, `LSN 4 of kind "derived" carries no delta`},
		// Before 2026-12-04: delivered with the delta.
		{"Watch meta change with a delta", &badAnswerServer{change: &mmsbv1.Change{Lsn: 4, Page: 1, Kind: "meta", Delta: runs}},
			watch, client.ErrBadResponse, `LSN 4 of kind "meta" carries a delta`},
		{"Watch delta change of its page", &badAnswerServer{change: &mmsbv1.Change{Lsn: 4, Page: 1, Kind: "delta", Delta: runs}},
			watch, nil, ""},
		// Before 2026-12-04: delivered, Op.Page 2 and Op.Delta.Page 1.
		{"QueryLog delta of another page", &badAnswerServer{ops: []*mmsbv1.Op{{Lsn: 3, Kind: "delta", Page: 2, Delta: runs}}},
			queryLog, client.ErrBadResponse, "LSN 3 names page 2 and carries a delta of page 1"},
		// Before 2026-12-04: delivered with a zero delta.
		{"QueryLog delta without a delta", &badAnswerServer{ops: []*mmsbv1.Op{{Lsn: 3, Kind: "delta", Page: 1}}},
			queryLog, client.ErrBadResponse, `LSN 3 of kind "delta" carries no delta`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := c.call(fakeClient(t, c.srv))
			if c.want == nil {
				if n != 1 || (err != nil && err.Error() != "delivered") {
					t.Fatalf("a matching answer: %d delivered, error %v; want it delivered", n, err)
				}
				return
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("want an error wrapping %v saying %q, got %v", c.want, c.says, err)
			}
			if n != 0 {
				t.Fatalf("%d delivered from an answer refused", n)
			}
		})
	}
}
