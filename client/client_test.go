package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// oddServer answers with replies the real server never sends, to check
// that the client neither panics, nor loops forever, nor delivers twice.
type oddServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
	ids       []uint64                // CreatePages answer
	listCalls int                     // ListPages calls so far
	watch     []*mmsbv1.WatchResponse // the one Watch stream's messages
}

var errLooped = errors.New("ListPages asked 100 times")

func (s *oddServer) CreatePages(context.Context, *connect.Request[mmsbv1.CreatePagesRequest]) (*connect.Response[mmsbv1.CreatePagesResponse], error) {
	return connect.NewResponse(&mmsbv1.CreatePagesResponse{Ids: s.ids}), nil
}

// ListPages always answers one page and the same next_after_id.
func (s *oddServer) ListPages(context.Context, *connect.Request[mmsbv1.ListPagesRequest]) (*connect.Response[mmsbv1.ListPagesResponse], error) {
	if s.listCalls++; s.listCalls > 100 {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errLooped)
	}
	return connect.NewResponse(&mmsbv1.ListPagesResponse{Pages: []*mmsbv1.PageInfo{{Id: 7, Size: 8}}, NextAfterId: 7}), nil
}

func (s *oddServer) Watch(_ context.Context, _ *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	for _, m := range s.watch {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return connect.NewError(connect.CodeFailedPrecondition, errors.New("no more"))
}

// noPanic runs call and turns a panic into an error.
func noPanic(call func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return call()
}

// TestOddReplies: the client refuses replies that do not match what it
// asked, with an error wrapping client.ErrBadResponse, instead of
// panicking or looping.
func TestOddReplies(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		srv  *oddServer
		call func(*client.Client) error
	}{
		{"CreatePage answered with no ID", &oddServer{}, func(c *client.Client) error {
			_, err := c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
			return err
		}},
		{"CreatePages answered with too few IDs", &oddServer{ids: []uint64{1}}, func(c *client.Client) error {
			_, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
			return err
		}},
		{"CreatePages answered with too many IDs", &oddServer{ids: []uint64{1, 2, 3}}, func(c *client.Client) error {
			_, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
			return err
		}},
		{"PageIDs answered with a next_after_id that does not advance", &oddServer{}, func(c *client.Client) error {
			_, err := c.PageIDs(ctx)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := fakeClient(t, c.srv)
			err := noPanic(func() error { return c.call(cl) })
			if !errors.Is(err, client.ErrBadResponse) || errors.Is(err, errLooped) || strings.HasPrefix(err.Error(), "panic:") {
				t.Fatalf("want the client's own error, wrapping client.ErrBadResponse, got %v", err)
			}
		})
	}
}

// TestWatchNeverDeliversTwice: a server that repeats a change, within a
// message or in a later one whose progress_lsn lags, does not make the
// client deliver it twice.
func TestWatchNeverDeliversTwice(t *testing.T) {
	change := func(lsn uint64) *mmsbv1.Change { return &mmsbv1.Change{Lsn: lsn, Page: 1, Kind: "meta"} }
	s := &oddServer{watch: []*mmsbv1.WatchResponse{
		{Changes: []*mmsbv1.Change{change(5), change(5)}},
		{Changes: []*mmsbv1.Change{change(5)}},
		{Changes: []*mmsbv1.Change{change(6)}, ProgressLsn: 6},
	}}
	c := fakeClient(t, s)
	var got []mmsb.LSN
	done := errors.New("done")
	err := c.Watch(context.Background(), client.WatchOptions{FromLSN: 5}, func(ev client.WatchEvent) error {
		for _, ch := range ev.Changes {
			got = append(got, ch.LSN)
		}
		if ev.ProgressLSN >= 6 {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		t.Fatal(err)
	}
	if want := []mmsb.LSN{5, 6}; !slices.Equal(got, want) {
		t.Fatalf("delivered LSNs %v, want %v", got, want)
	}
}

// fakeClient is a client, without retries unless opts give some, of a
// test server that implements the bus service with h (the handlers a test
// overrides answer as it needs; the rest are Unimplemented).
func fakeClient(t *testing.T, h mmsbv1connect.BusServiceHandler, opts ...client.Option) *client.Client {
	t.Helper()
	_, hh := mmsbv1connect.NewBusServiceHandler(h)
	hs := httptest.NewServer(hh)
	t.Cleanup(hs.Close)
	c, err := client.New(hs.URL, append([]client.Option{client.WithRetries(0, 0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
