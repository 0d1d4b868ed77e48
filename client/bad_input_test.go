package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// inputServer answers what a case sets, and records what the client sent.
type inputServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	calls     atomic.Int64              // RPCs received
	depth     atomic.Int64              // the last Provenance request's depth
	writes    []*mmsbv1.ProvenanceWrite // Provenance answer
	emptyNext bool                      // ListPages answers no page and a next_after_id that advances
	ops       []*mmsbv1.Op              // QueryLog answer
	watch     []*mmsbv1.WatchResponse   // Watch stream
	stats     *mmsbv1.StatsResponse     // Stats answer
	commit    *mmsbv1.CommitResponse    // Commit answer
	read      func(*mmsbv1.ReadRequest) []*mmsbv1.PageData
}

func (s *inputServer) Provenance(_ context.Context, req *connect.Request[mmsbv1.ProvenanceRequest]) (*connect.Response[mmsbv1.ProvenanceResponse], error) {
	s.calls.Add(1)
	s.depth.Store(int64(req.Msg.GetDepth()))
	return connect.NewResponse(&mmsbv1.ProvenanceResponse{Writes: s.writes}), nil
}

func (s *inputServer) ListPages(_ context.Context, req *connect.Request[mmsbv1.ListPagesRequest]) (*connect.Response[mmsbv1.ListPagesResponse], error) {
	if s.calls.Add(1) > 100 {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errLooped)
	}
	if s.emptyNext {
		return connect.NewResponse(&mmsbv1.ListPagesResponse{NextAfterId: req.Msg.GetAfterId() + 1}), nil
	}
	return connect.NewResponse(&mmsbv1.ListPagesResponse{}), nil
}

func (s *inputServer) QueryLog(_ context.Context, _ *connect.Request[mmsbv1.QueryLogRequest], stream *connect.ServerStream[mmsbv1.QueryLogResponse]) error {
	s.calls.Add(1)
	return stream.Send(&mmsbv1.QueryLogResponse{Ops: s.ops})
}

func (s *inputServer) Watch(_ context.Context, _ *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	s.calls.Add(1)
	for _, m := range s.watch {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return connect.NewError(connect.CodeFailedPrecondition, errors.New("no more"))
}

func (s *inputServer) Stats(context.Context, *connect.Request[mmsbv1.StatsRequest]) (*connect.Response[mmsbv1.StatsResponse], error) {
	s.calls.Add(1)
	return connect.NewResponse(s.stats), nil
}

func (s *inputServer) Read(_ context.Context, req *connect.Request[mmsbv1.ReadRequest]) (*connect.Response[mmsbv1.ReadResponse], error) {
	s.calls.Add(1)
	var pages []*mmsbv1.PageData
	if s.read != nil {
		pages = s.read(req.Msg)
	}
	return connect.NewResponse(&mmsbv1.ReadResponse{Pages: pages}), nil
}

func (s *inputServer) Commit(context.Context, *connect.Request[mmsbv1.CommitRequest]) (*connect.Response[mmsbv1.CommitResponse], error) {
	s.calls.Add(1)
	return connect.NewResponse(s.commit), nil
}

// TestClientBadInput feeds the client what a caller or a server may pass
// it wrongly. Each case must end within its deadline, without a panic,
// with an error wrapping the sentinel it names and saying what was wrong
// (or, where want is nil, with the defined behaviour check verifies).
// What each saw before its fix is in its comment; the cases without one
// passed already and guard the checks that were there.
func TestClientBadInput(t *testing.T) {
	noop := func(client.WatchEvent) error { return nil }
	cases := []struct {
		name string
		srv  *inputServer
		call func(ctx context.Context, c *client.Client) error
		want error  // nil: no error, and check (if any) passes
		says string // in the error
		// check, when set, inspects the server after the call.
		check func(t *testing.T, s *inputServer)
		// noCall: the client must refuse without asking the server.
		noCall bool
	}{
		// Before: a nil Option panicked in New (nil func call).
		{name: "New with a nil Option", call: func(context.Context, *client.Client) error {
			_, err := client.New("http://127.0.0.1:7070", nil)
			return err
		}, want: mmsb.ErrInvalidOption, says: "option 0 is nil"},
		// Before: a nil connect.ClientOption panicked in New (inside connect).
		{name: "New with a nil connect option", call: func(context.Context, *client.Client) error {
			_, err := client.New("http://127.0.0.1:7070", client.WithConnectOptions(nil))
			return err
		}, want: mmsb.ErrInvalidOption, says: "connect option 0 is nil"},
		// Before: accepted; every call then failed with connect's parse error.
		{name: "New with a URL that does not parse", call: func(context.Context, *client.Client) error {
			_, err := client.New("http://[::1")
			return err
		}, want: mmsb.ErrInvalidOption, says: `"http://[::1"`},
		// Before: accepted; every call then failed to dial.
		{name: "New with a URL without a host", call: func(context.Context, *client.Client) error {
			_, err := client.New("http://")
			return err
		}, want: mmsb.ErrInvalidOption, says: "no host"},
		// Before: accepted; the procedures were appended to the query.
		{name: "New with a URL with a query", call: func(context.Context, *client.Client) error {
			_, err := client.New("http://127.0.0.1:7070/?x=1")
			return err
		}, want: mmsb.ErrInvalidOption, says: "query"},
		// Before: accepted; every call failed in net/http (invalid header), and idempotent ones were retried.
		{name: "WithToken with a newline", call: func(context.Context, *client.Client) error {
			_, err := client.New("http://127.0.0.1:7070", client.WithToken("abc\ndef"))
			return err
		}, want: mmsb.ErrInvalidOption, says: "token"},
		// Before: accepted; the TLS configuration was silently unused.
		{name: "WithTLS with an http:// URL", call: func(context.Context, *client.Client) error {
			_, err := client.New("http://127.0.0.1:7070", client.WithTLS(&tls.Config{MinVersion: tls.VersionTLS13}))
			return err
		}, want: mmsb.ErrInvalidOption, says: "WithTLS"},
		// Before: accepted; the TLS configuration was silently unused.
		{name: "WithTLS with WithHTTPClient", call: func(context.Context, *client.Client) error {
			_, err := client.New("https://127.0.0.1:7070", client.WithTLS(&tls.Config{MinVersion: tls.VersionTLS13}), client.WithHTTPClient(&http.Client{}))
			return err
		}, want: mmsb.ErrInvalidOption, says: "WithHTTPClient"},
		{name: "New with a unix URL", call: func(context.Context, *client.Client) error {
			_, err := client.New("unix:///tmp/x")
			return err
		}, want: mmsb.ErrInvalidOption, says: "unix:///tmp/x"},
		// Before: panicked calling the nil function at the first operation.
		{name: "QueryLog with a nil function", srv: &inputServer{ops: []*mmsbv1.Op{{Lsn: 3, Kind: "meta", Page: 1}}},
			call: func(ctx context.Context, c *client.Client) error { return c.QueryLog(ctx, mmsb.LogQuery{}, nil) },
			want: mmsb.ErrInvalidOption, says: "nil function", noCall: true},
		// Before: panicked calling the nil function at the first event.
		{name: "Watch with a nil function", srv: &inputServer{watch: []*mmsbv1.WatchResponse{{ProgressLsn: 3}}},
			call: func(ctx context.Context, c *client.Client) error {
				return c.Watch(ctx, client.WatchOptions{MaxReconnects: 1}, nil)
			}, want: mmsb.ErrInvalidOption, says: "nil function", noCall: true},
		// Before: treated as the default, 10 reconnections.
		{name: "Watch with negative MaxReconnects", srv: &inputServer{},
			call: func(ctx context.Context, c *client.Client) error {
				return c.Watch(ctx, client.WatchOptions{MaxReconnects: -1}, noop)
			}, want: mmsb.ErrInvalidOption, says: "MaxReconnects -1", noCall: true},
		{name: "Watch with a negative progress interval", srv: &inputServer{},
			call: func(ctx context.Context, c *client.Client) error {
				return c.Watch(ctx, client.WatchOptions{Progress: -time.Second}, noop)
			}, want: mmsb.ErrInvalidOption, says: "negative", noCall: true},
		// Before: depth 2^31 reached the server as -2^31 (only the direct writer).
		{name: "Provenance depth beyond int32", srv: &inputServer{writes: []*mmsbv1.ProvenanceWrite{{Page: 1, Lsn: 2, Kind: "delta", Parent: -1}}},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Provenance(ctx, 1, 0, 1, int(int64(one)<<31)) // a run-time 2^31 (64-bit only: see the loop)
				return err
			}, check: func(t *testing.T, s *inputServer) {
				if d := s.depth.Load(); d != math.MaxInt32 {
					t.Fatalf("depth 2^31 reached the server as %d, want %d", d, math.MaxInt32)
				}
			}},
		{name: "Provenance depth below int32", srv: &inputServer{writes: []*mmsbv1.ProvenanceWrite{{Page: 1, Lsn: 2, Kind: "delta", Parent: -1}}},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Provenance(ctx, 1, 0, 1, int(-int64(one)<<32)) // a run-time -2^32 (64-bit only)
				return err
			}, check: func(t *testing.T, s *inputServer) {
				if d := s.depth.Load(); d >= 0 {
					t.Fatalf("depth -2^32 reached the server as %d, want a negative depth", d)
				}
			}},
		{name: "Provenance of an empty range", srv: &inputServer{},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Provenance(ctx, 1, 0, 0, 0)
				return err
			}, want: mmsb.ErrInvalidOption, says: "n 0", noCall: true},
		// Before: delivered as kind 0.
		{name: "Provenance answer of an unknown kind", srv: &inputServer{writes: []*mmsbv1.ProvenanceWrite{{Page: 1, Lsn: 2, Kind: "teleport", Parent: -1}}},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Provenance(ctx, 1, 0, 1, 0)
				return err
			}, want: client.ErrBadResponse, says: `unknown kind "teleport"`},
		// Before: delivered; a caller following Parent indexed out of range.
		{name: "Provenance answer with a parent out of range", srv: &inputServer{writes: []*mmsbv1.ProvenanceWrite{
			{Page: 1, Lsn: 5, Kind: "derived", Parent: -1}, {Page: 2, Lsn: 4, Kind: "delta", Depth: 1, Parent: 7}}},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Provenance(ctx, 1, 0, 1, 0)
				return err
			}, want: client.ErrBadResponse, says: "write 1 names parent 7"},
		// Before: delivered; a caller following Parent indexed at -7.
		{name: "Provenance answer with a negative parent", srv: &inputServer{writes: []*mmsbv1.ProvenanceWrite{
			{Page: 1, Lsn: 5, Kind: "derived", Parent: -1}, {Page: 2, Lsn: 4, Kind: "delta", Depth: 1, Parent: -7}}},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Provenance(ctx, 1, 0, 1, 0)
				return err
			}, want: client.ErrBadResponse, says: "write 1 names parent -7"},
		{name: "Provenance answer of a lost write", srv: &inputServer{writes: []*mmsbv1.ProvenanceWrite{
			{Page: 1, Lsn: 5, Kind: "derived", Parent: -1}, {Depth: 1, Parent: 0, Lost: true}}},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Provenance(ctx, 1, 0, 1, 0)
				return err
			}},
		// Before: asked the server again and again (here until it gave up after 100 calls).
		{name: "PageIDs answered with no page and a next_after_id", srv: &inputServer{emptyNext: true},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.PageIDs(ctx)
				return err
			}, want: client.ErrBadResponse, says: "no page"},
		{name: "ListPages with a negative limit", srv: &inputServer{},
			call: func(ctx context.Context, c *client.Client) error {
				_, _, err := c.ListPages(ctx, 0, -1)
				return err
			}, want: mmsb.ErrInvalidOption, says: "negative limit", noCall: true},
		// Before: the nil item was sent as an empty one (page 0), and the answer refused as short.
		{name: "Read with a nil item", srv: &inputServer{},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Read(ctx, []*mmsbv1.ReadItem{{Page: 1}, nil}, 0)
				return err
			}, want: mmsb.ErrInvalidOption, says: "item 1 is nil", noCall: true},
		{name: "Read answered with too few pages", srv: &inputServer{},
			call: func(ctx context.Context, c *client.Client) error {
				_, _, _, err := c.ReadPage(ctx, 1)
				return err
			}, want: client.ErrBadResponse, says: "0 pages answered for 1 asked"},
		// Before: the short answer was returned as the range, and a
		// caller reading its 8 bytes indexed out of range.
		{name: "ReadRange answered with fewer bytes", srv: &inputServer{read: func(*mmsbv1.ReadRequest) []*mmsbv1.PageData {
			return []*mmsbv1.PageData{{Page: 1, Off: 4, Data: []byte("xy")}}
		}},
			call: func(ctx context.Context, c *client.Client) error {
				_, _, _, err := c.ReadRange(ctx, 1, 4, 8)
				return err
			}, want: client.ErrBadResponse, says: "asked for 8 bytes, answered 2"},
		// Before: another page's bytes were returned as page 1's.
		{name: "ReadPage answered with another page", srv: &inputServer{read: func(*mmsbv1.ReadRequest) []*mmsbv1.PageData {
			return []*mmsbv1.PageData{{Page: 2, Data: []byte("page two")}}
		}},
			call: func(ctx context.Context, c *client.Client) error {
				_, _, _, err := c.ReadPage(ctx, 1)
				return err
			}, want: client.ErrBadResponse, says: "answered page 2"},
		// Before: the live state was returned as the state as of LSN 3.
		{name: "ReadPageAt answered at another LSN", srv: &inputServer{read: func(*mmsbv1.ReadRequest) []*mmsbv1.PageData {
			return []*mmsbv1.PageData{{Page: 1, Data: []byte("now")}}
		}},
			call: func(ctx context.Context, c *client.Client) error {
				_, _, err := c.ReadPageAt(ctx, 1, 3)
				return err
			}, want: client.ErrBadResponse, says: "as of LSN 3, answered as of the earlier LSN 0"},
		// Control: an answer that matches is delivered.
		{name: "ReadRange answered as asked", srv: &inputServer{read: func(*mmsbv1.ReadRequest) []*mmsbv1.PageData {
			return []*mmsbv1.PageData{{Page: 1, Off: 4, Data: []byte("12345678")}}
		}},
			call: func(ctx context.Context, c *client.Client) error {
				b, _, _, err := c.ReadRange(ctx, 1, 4, 8)
				if err == nil && string(b) != "12345678" {
					return fmt.Errorf("read %q", b)
				}
				return err
			}},
		{name: "ReadPageAt LSN 0", srv: &inputServer{},
			call: func(ctx context.Context, c *client.Client) error {
				_, _, err := c.ReadPageAt(ctx, 1, 0)
				return err
			}, want: mmsb.ErrInvalidOption, says: "LSN >= 1", noCall: true},
		{name: "CreatePages with a negative size", srv: &inputServer{},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: -1}})
				return err
			}, want: mmsb.ErrInvalidPage, says: "page size -1", noCall: true},
		{name: "Stats answered with nothing", srv: &inputServer{stats: &mmsbv1.StatsResponse{}},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.LastLSN(ctx)
				return err
			}},
		{name: "call with a cancelled context", srv: &inputServer{},
			call: func(ctx context.Context, c *client.Client) error {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				_, err := c.Stats(ctx)
				return err
			}, want: context.Canceled, says: "canceled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "int32") && strconv.IntSize == 32 {
				t.Skip("an int cannot hold a depth beyond int32 on 32-bit platforms")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var c *client.Client
			if tc.srv != nil {
				c = fakeClient(t, tc.srv)
			}
			err := noPanic(func() error { return tc.call(ctx, c) })
			if ctx.Err() != nil {
				t.Fatalf("did not end within its deadline: %v", err)
			}
			if err != nil && strings.HasPrefix(err.Error(), "panic:") {
				t.Fatal(err)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want no error, got %v", err)
				}
			} else if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("want an error wrapping %v saying %q, got %v", tc.want, tc.says, err)
			}
			if tc.noCall && tc.srv.calls.Load() != 0 {
				t.Fatalf("the client asked the server %d times for a call it must refuse itself", tc.srv.calls.Load())
			}
			if tc.check != nil {
				tc.check(t, tc.srv)
			}
		})
	}
}

// one is 1 as a variable, so that a shift past 32 bits is a run-time value
// on 32-bit platforms, not a constant that overflows int.
var one = 1
