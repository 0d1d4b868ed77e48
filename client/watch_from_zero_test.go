package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// lsnZeroServer opens every watch with a change at LSN 0, which no
// operation has.
type lsnZeroServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
}

func (lsnZeroServer) Watch(ctx context.Context, _ *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	m := &mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{{Lsn: 0, Page: 1, Kind: "meta"}}}
	if err := stream.Send(m); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestWatchFromZeroRefusesLSNZero: a change at LSN 0 is refused with
// ErrBadResponse. A watch from 0 waits for the server's opening message
// to learn its first LSN, so until then every LSN is at or after the
// next one: the change at LSN 0, passed over while a watch started at
// LSN 1 at the earliest, reached fn for a while on 2026-12-07.
func TestWatchFromZeroRefusesLSNZero(t *testing.T) {
	c := fakeClient(t, lsnZeroServer{})
	t.Cleanup(func() { _ = c.Close() })
	errGot := errors.New("delivered")
	err := c.Watch(context.Background(), client.WatchOptions{FromLSN: 0, MaxReconnects: 1}, func(ev client.WatchEvent) error {
		if len(ev.Changes) > 0 {
			return errGot
		}
		return nil
	})
	if !errors.Is(err, client.ErrBadResponse) {
		t.Fatalf("Watch from 0, a change at LSN 0: %v, want ErrBadResponse", err)
	}
}

// TestWatchFromZeroEmptyLog: a watch from 0 on a bus that has logged
// nothing yet starts at LSN 1 (the last LSN + 1) and delivers every
// operation that comes after, as QueryLog from 0 then reads them.
func TestWatchFromZeroEmptyLog(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	c, err := client.New(hs.URL, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if bus.LastLSN() != 0 {
		t.Fatalf("a new bus at LSN %d, want 0", bus.LastLSN())
	}
	stop := errors.New("caught up")
	var got []mmsb.LSN
	var last mmsb.LSN
	err = c.Watch(ctx, client.WatchOptions{FromLSN: 0, MaxReconnects: 1}, func(ev client.WatchEvent) error {
		if last == 0 {
			// The opening message: the log is empty; write to it now.
			if ev.ProgressLSN != 0 || len(ev.Changes) != 0 {
				return errors.New("the opening message of a watch of an empty log is not at LSN 0")
			}
			id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
			if err != nil {
				return err
			}
			for i := range 3 {
				if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{byte(i)})}); err != nil {
					return err
				}
			}
			last = bus.LastLSN()
			return nil
		}
		for _, ch := range ev.Changes {
			got = append(got, ch.LSN)
		}
		if ev.ProgressLSN >= last {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Watch from 0 of an empty log: %v, want every later operation delivered", err)
	}
	var want []mmsb.LSN
	if err := c.QueryLog(ctx, mmsb.LogQuery{FromLSN: 0}, func(lo *mmsb.LoggedOp) bool {
		want = append(want, lo.LSN)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || want[0] != 1 || !slices.Equal(got, want) {
		t.Fatalf("Watch from 0 of an empty log delivered %v, QueryLog from 0 reads %v", got, want)
	}
}
