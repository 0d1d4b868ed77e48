package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// hostileServer answers a watch with one progress message and then keeps
// the stream open, and CreatePages with an error carrying the IDs of the
// pages it created before failing (the server's appliedThenFailed).
type hostileServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
}

func (hostileServer) Watch(ctx context.Context, _ *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	if err := stream.Send(&mmsbv1.WatchResponse{ProgressLsn: 3}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func (hostileServer) CreatePages(context.Context, *connect.Request[mmsbv1.CreatePagesRequest]) (*connect.Response[mmsbv1.CreatePagesResponse], error) {
	cerr := connect.NewError(connect.CodeUnavailable, errors.New("created, then the sync failed"))
	d, err := connect.NewErrorDetail(&mmsbv1.CreatePagesResponse{Ids: []uint64{42}})
	if err != nil {
		return nil, err
	}
	cerr.AddDetail(d)
	return nil, cerr
}

// TestWatchFnErrorAfterCancel: a watch function that has what it wants
// cancels the watch's context and returns its own error; Watch returns
// that error (errors.Is holds). Until 2026-12-06 Watch returned its
// internal wrapper, which unwraps to nothing, whenever the context had
// ended by then: errors.Is(err, errDone) was false and the message was
// all the caller had.
func TestWatchFnErrorAfterCancel(t *testing.T) {
	c := fakeClient(t, hostileServer{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errDone := errors.New("seen enough")
	err := c.Watch(ctx, client.WatchOptions{}, func(client.WatchEvent) error {
		cancel()
		return errDone
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("Watch returned %v (%T), want the function's error", err, err)
	}
}

// TestCreatePageUncertainKeepsID: CreatePage, like CreatePages, returns
// the ID of a page the server created before its call failed (with
// ErrCommitUncertain), so the caller can look at the page instead of
// creating another. Until 2026-12-06 CreatePage returned 0 with the error.
func TestCreatePageUncertainKeepsID(t *testing.T) {
	c := fakeClient(t, hostileServer{})
	id, err := c.CreatePage(context.Background(), mmsb.PageSpec{Size: 8})
	if !errors.Is(err, client.ErrCommitUncertain) {
		t.Fatalf("CreatePage: %v, want ErrCommitUncertain", err)
	}
	if id != 42 {
		t.Fatalf("CreatePage returned page %d with %v, want page 42 (the server's detail)", id, err)
	}
}

// unavailableServer answers every Stats call with Unavailable.
type unavailableServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
}

func (unavailableServer) Stats(context.Context, *connect.Request[mmsbv1.StatsRequest]) (*connect.Response[mmsbv1.StatsResponse], error) {
	return nil, connect.NewError(connect.CodeUnavailable, errors.New("down for maintenance"))
}

// TestRetryCanceledSaysSo: a caller who cancels an idempotent call while
// it waits to retry gets an error that says so (errors.Is(err,
// context.Canceled)) as well as the server's last answer. Until
// 2026-12-06 it got only the server's Unavailable error, as if its
// retries had run out.
func TestRetryCanceledSaysSo(t *testing.T) {
	_, h := mmsbv1connect.NewBusServiceHandler(unavailableServer{})
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the first try has been answered: the client then waits
	// a first backoff far longer than the test, which only the
	// cancellation can end.
	cancelAfter := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			resp, err := next(ctx, req)
			cancel()
			return resp, err
		}
	})
	c, err := client.New(hs.URL, client.WithRetries(3, time.Hour),
		client.WithConnectOptions(connect.WithInterceptors(cancelAfter)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Stats(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Stats: %v, want an error wrapping context.Canceled", err)
	}
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "down for maintenance") {
		t.Fatalf("Stats: %v, want the server's last answer (unavailable) in it", err)
	}
}

// TestNewHidesURLPassword: New's errors name a base URL it refuses
// without the password in it (a reverse proxy with basic authentication
// takes one): an error is logged and shown where a password must not be.
// Until 2026-12-06 they quoted the URL whole.
func TestNewHidesURLPassword(t *testing.T) {
	for _, u := range []string{
		"http://ops:s3cretpw@mmsb.example:7070/?x=1",  // a query
		"http://ops:s3cretpw@mmsb.example:7070/#frag", // a fragment
		"http://ops:s3cretpw@[::1:7070/",              // does not parse
		"http://ops:s3cretpw@/",                       // no host
		"ftp://ops:s3cretpw@mmsb.example:7070/",       // another scheme
	} {
		_, err := client.New(u)
		if !errors.Is(err, mmsb.ErrInvalidOption) {
			t.Fatalf("New(%q): %v, want ErrInvalidOption", u, err)
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("New's error shows the URL's password: %v", err)
		}
		if !strings.Contains(err.Error(), "ops") {
			t.Errorf("New's error does not name the URL (its user, at least): %v", err)
		}
	}
	// WithTLS with http:// names the URL too.
	if _, err := client.New("http://ops:s3cretpw@mmsb.example:7070", client.WithTLS(&tls.Config{})); err == nil || strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("New with WithTLS and http://: %v, want an error without the password", err)
	}
}

// listServer answers every ListPages call with pages.
type listServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	pages []uint64
	next  uint64
}

func (s listServer) ListPages(context.Context, *connect.Request[mmsbv1.ListPagesRequest]) (*connect.Response[mmsbv1.ListPagesResponse], error) {
	m := &mmsbv1.ListPagesResponse{NextAfterId: s.next}
	for _, id := range s.pages {
		m.Pages = append(m.Pages, &mmsbv1.PageInfo{Id: id, Size: 8})
	}
	return connect.NewResponse(m), nil
}

// TestListPagesAnswerChecked: a ListPages answer that is not a page of
// the listing asked for is refused with ErrBadResponse naming what was
// wrong, and PageIDs with it; an answer that is one (the control) is
// delivered. Until 2026-12-06 PageIDs returned [3 3 5] for a server that
// repeated page 3.
func TestListPagesAnswerChecked(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		srv   listServer
		limit int
		want  string
	}{
		{"a page repeated", listServer{pages: []uint64{3, 3, 5}}, 10, "page 3 answered at place 1"},
		{"pages out of order", listServer{pages: []uint64{5, 3}}, 10, "page 3 answered at place 1"},
		{"a page not above after", listServer{pages: []uint64{0, 2}}, 10, "page 0 answered at place 0"},
		{"more pages than the limit", listServer{pages: []uint64{1, 2, 3}}, 2, "3 pages answered, limit 2"},
		{"next_after_id not the last page", listServer{pages: []uint64{1, 2}, next: 9}, 10, "next_after_id 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeClient(t, tc.srv)
			_, _, err := c.ListPages(ctx, 0, tc.limit)
			if !errors.Is(err, client.ErrBadResponse) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ListPages: %v, want ErrBadResponse naming %q", err, tc.want)
			}
			if tc.limit < 3 {
				return // PageIDs asks for more
			}
			if ids, err := c.PageIDs(ctx); !errors.Is(err, client.ErrBadResponse) {
				t.Fatalf("PageIDs: %v %v, want ErrBadResponse", ids, err)
			}
		})
	}
	// The control: a well-formed answer, the last page of the listing.
	ids, err := fakeClient(t, listServer{pages: []uint64{2, 3, 5}}).PageIDs(ctx)
	if err != nil || len(ids) != 3 || ids[0] != 2 || ids[2] != 5 {
		t.Fatalf("control: PageIDs %v, %v; want [2 3 5]", ids, err)
	}
}

// TestWatchRefusesChangesOutOfOrder: a watch message whose changes do not
// come in LSN order ends the watch with ErrBadResponse naming them, and
// delivers nothing of it. Until 2026-12-06 the client delivered LSN 7 and
// passed over LSN 6 as if delivered: a gap the application never saw.
// Repeated LSNs stay what they were, duplicates delivered once
// (TestWatchNeverDeliversTwice).
func TestWatchRefusesChangesOutOfOrder(t *testing.T) {
	change := func(lsn uint64) *mmsbv1.Change { return &mmsbv1.Change{Lsn: lsn, Page: 1, Kind: "meta"} }
	c := fakeClient(t, &oddServer{watch: []*mmsbv1.WatchResponse{
		{Changes: []*mmsbv1.Change{change(5), change(7), change(6)}, ProgressLsn: 7},
	}})
	var got []mmsb.LSN
	err := c.Watch(context.Background(), client.WatchOptions{FromLSN: 5}, func(ev client.WatchEvent) error {
		for _, ch := range ev.Changes {
			got = append(got, ch.LSN)
		}
		return nil
	})
	if !errors.Is(err, client.ErrBadResponse) || !strings.Contains(err.Error(), "LSN 6 follows one at LSN 7") {
		t.Fatalf("Watch: %v (delivered %v), want ErrBadResponse naming LSN 6 after 7", err, got)
	}
	if len(got) != 0 {
		t.Fatalf("delivered %v of a refused message", got)
	}
}

// logServer answers QueryLog with ops, in one message.
type logServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	ops []*mmsbv1.Op
}

func (s logServer) QueryLog(_ context.Context, _ *connect.Request[mmsbv1.QueryLogRequest], stream *connect.ServerStream[mmsbv1.QueryLogResponse]) error {
	return stream.Send(&mmsbv1.QueryLogResponse{Ops: s.ops})
}

// TestQueryLogRefusesOpsOutOfOrder: operations that do not come in
// ascending LSN order (repeated, or below the one before, or LSN 0) end
// QueryLog with ErrBadResponse naming them, after the ones before were
// delivered; ascending ones (the control) are all delivered. Until
// 2026-12-06 fn got LSN 4 twice.
func TestQueryLogRefusesOpsOutOfOrder(t *testing.T) {
	op := func(lsn uint64) *mmsbv1.Op { return &mmsbv1.Op{Lsn: lsn, Kind: "free", Page: 1} }
	for _, tc := range []struct {
		name string
		ops  []*mmsbv1.Op
		want string // "" for the control
		got  int    // operations delivered
	}{
		{"repeated", []*mmsbv1.Op{op(3), op(4), op(4)}, "LSN 4 after one at LSN 4", 2},
		{"backwards", []*mmsbv1.Op{op(3), op(5), op(4)}, "LSN 4 after one at LSN 5", 2},
		{"LSN 0", []*mmsbv1.Op{op(0)}, "LSN 0 after one at LSN 0", 0},
		{"control", []*mmsbv1.Op{op(3), op(4), op(9)}, "", 3},
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
			err = c.QueryLog(context.Background(), mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { n++; return true })
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("control: %v", err)
			case tc.want != "" && (!errors.Is(err, client.ErrBadResponse) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("QueryLog: %v, want ErrBadResponse naming %q", err, tc.want)
			case n != tc.got:
				t.Fatalf("%d operations delivered, want %d", n, tc.got)
			}
		})
	}
}
