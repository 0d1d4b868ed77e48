package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// closeServer answers Stats, and opens watches and log queries that send
// one message and then stay open until the client goes.
type closeServer struct {
	mmsbv1connect.UnimplementedBusServiceHandler
}

func (closeServer) Stats(context.Context, *connect.Request[mmsbv1.StatsRequest]) (*connect.Response[mmsbv1.StatsResponse], error) {
	return connect.NewResponse(&mmsbv1.StatsResponse{LastLsn: 7}), nil
}

func (closeServer) Watch(ctx context.Context, _ *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	if err := stream.Send(&mmsbv1.WatchResponse{ProgressLsn: 7}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func (closeServer) QueryLog(ctx context.Context, _ *connect.Request[mmsbv1.QueryLogRequest], stream *connect.ServerStream[mmsbv1.QueryLogResponse]) error {
	if err := stream.Send(&mmsbv1.QueryLogResponse{Ops: []*mmsbv1.Op{{Lsn: 1, Kind: "free", Page: 1}}}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestCloseReleasesClient: Close ends the watch and the log query in
// flight with an error wrapping mmsb.ErrClosed, later calls fail alike
// naming the call, and the goroutines of the client's connections (and
// the server's ends of them) are gone afterwards. Until 2026-12-06 a
// Client had no Close: its idle connections stayed until the transport's
// idle timeout (90 s), and a watch until its context ended.
func TestCloseReleasesClient(t *testing.T) {
	_, h := mmsbv1connect.NewBusServiceHandler(closeServer{})
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	before := runtime.NumGoroutine()

	c, err := client.New(hs.URL, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Ended at the test's end (before hs.Close, which waits for the
	// server's handlers), so that a failing test does not hang there.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Several connections: concurrent unary calls.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.Stats(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	watchUp, logUp := make(chan struct{}), make(chan struct{})
	watchErr, logErr := make(chan error, 1), make(chan error, 1)
	go func() {
		var once sync.Once
		watchErr <- c.Watch(ctx, client.WatchOptions{}, func(client.WatchEvent) error {
			once.Do(func() { close(watchUp) })
			return nil
		})
	}()
	go func() {
		var once sync.Once
		logErr <- c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool {
			once.Do(func() { close(logUp) })
			return true
		})
	}()
	for _, up := range []chan struct{}{watchUp, logUp} {
		select {
		case <-up:
		case <-time.After(10 * time.Second):
			t.Fatal("the watch or the log query did not start")
		}
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for what, ch := range map[string]chan error{"Watch": watchErr, "QueryLog": logErr} {
		select {
		case err := <-ch:
			if !errors.Is(err, mmsb.ErrClosed) {
				t.Errorf("%s in flight at Close returned %v, want an error wrapping mmsb.ErrClosed", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s in flight did not end within 10 s of Close", what)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Stats", func() error { _, err := c.Stats(ctx); return err }},
		{"Commit", func() error {
			_, err := c.Commit(ctx, []mmsb.Delta{{Page: 1, Mask: []byte{1}, Payload: []byte{2}}})
			return err
		}},
		{"Watch", func() error {
			return c.Watch(ctx, client.WatchOptions{}, func(client.WatchEvent) error { return nil })
		}},
		{"QueryLog", func() error { return c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { return true }) }},
	} {
		if err := tc.call(); !errors.Is(err, mmsb.ErrClosed) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s after Close: %v, want an error wrapping mmsb.ErrClosed naming the call", tc.name, err)
		}
	}

	// Bounded wait: the connections' goroutines end once they are closed.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines 10 s after Close, %d before the client:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
