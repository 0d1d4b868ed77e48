package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// freezingProxy forwards TCP connections to a backend until freeze: from
// then on the connections open at the time stop forwarding bytes, in both
// directions, without being closed (a hung server, or a half-open
// connection whose peer is gone); connections accepted later forward as
// usual.
type freezingProxy struct {
	ln       net.Listener
	backend  string
	accepted atomic.Int64 // connections accepted so far
	frozen   atomic.Int64 // connections numbered below it are frozen
	done     chan struct{}
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newFreezingProxy(t *testing.T, backend string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln, backend: backend, done: make(chan struct{})}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		close(p.done)
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *freezingProxy) addr() string { return p.ln.Addr().String() }

// freeze stops every connection open now.
func (p *freezingProxy) freeze() { p.frozen.Store(p.accepted.Load()) }

func (p *freezingProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		n := p.accepted.Add(1) - 1
		out, err := net.Dial("tcp", p.backend)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(n, out, in) })
		p.wg.Go(func() { p.pipe(n, in, out) })
	}
}

// pipe copies from src to dst until either fails, or until connection n
// is frozen: then it holds the bytes it read, forwards nothing more and
// waits for the test's end.
func (p *freezingProxy) pipe(n int64, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if n < p.frozen.Load() {
			<-p.done
			return
		}
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = dst.Close()
			return
		}
	}
}

// TestWatchSilentServer: a watch whose connection stops bringing bytes
// (the server hung, the link half-open: nothing closes it) is taken for
// dead after WatchOptions.SilenceTimeout without a message, and resumed
// on a new connection from the LSN after the last change delivered: the
// changes committed after the freeze arrive, none twice, none missing.
// Without the watchdog Watch waited on the frozen connection until its
// context ended, and the later changes never came.
func TestWatchSilentServer(t *testing.T) {
	t.Run("Connect over HTTP/1.1", func(t *testing.T) { testWatchSilentServer(t, 500*time.Millisecond) })
	// A new stream goes on the same HTTP/2 connection, the frozen one,
	// unless the transport finds it dead (its pings go unanswered).
	t.Run("gRPC over HTTP/2", func(t *testing.T) { testWatchSilentServer(t, 500*time.Millisecond, client.WithGRPC()) })
	// With the watchdog off, the transport's pings (WithPings) find the
	// silent connection and close it, and the watch resumes on a new one.
	t.Run("gRPC over HTTP/2, pings only", func(t *testing.T) {
		testWatchSilentServer(t, -1, client.WithGRPC(), client.WithPings(testPingAfter, testPingTimeout))
	})
}

// testWatchSilentServer runs TestWatchSilentServer with the watch's
// SilenceTimeout silence.
func testWatchSilentServer(t *testing.T, silence time.Duration, opts ...client.Option) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := server.New(server.Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ProgressInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Mux(server.HTTPOptions{}))
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	hs.Config.Protocols = &protos
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	proxy := newFreezingProxy(t, strings.TrimPrefix(hs.URL, "http://"))
	c, err := client.New("http://"+proxy.addr(), append([]client.Option{client.WithRetries(2, time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	ctx := context.Background()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := []mmsb.LSN{bus.LastLSN()}
	commit := func(v byte) {
		ds := []mmsb.Delta{mmsb.Write(id, 0, []byte{v})}
		if _, err := bus.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
		want = append(want, ds[0].LSN)
	}
	var mu sync.Mutex
	var got []mmsb.LSN
	seen := func() []mmsb.LSN {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- c.Watch(wctx, client.WatchOptions{FromLSN: 1, Pages: []mmsb.PageID{id}, Progress: 20 * time.Millisecond,
			SilenceTimeout: silence}, func(ev client.WatchEvent) error {
			mu.Lock()
			defer mu.Unlock()
			for _, ch := range ev.Changes {
				got = append(got, ch.LSN)
			}
			return nil
		})
	}()
	waitFor := func(n int, what string) {
		t.Helper()
		for end := time.Now().Add(20 * time.Second); len(seen()) < n; {
			if time.Now().After(end) {
				t.Fatalf("%s: the watch delivered %v, want %v", what, seen(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for v := range byte(3) {
		commit(v)
	}
	waitFor(len(want), "before the freeze")
	proxy.freeze()
	for v := range byte(3) {
		commit(10 + v)
	}
	waitFor(len(want), "after the connection went silent")
	cancel()
	if err := testutil.Recv(t, done, "Watch did not return after its context was cancelled"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch = %v, want context.Canceled", err)
	}
	if g := seen(); !slices.Equal(g, want) {
		t.Fatalf("delivered %v, want %v (each once, in order)", g, want)
	}
	if n := proxy.accepted.Load(); n < 2 {
		t.Fatalf("%d connection(s): the watch never reconnected", n)
	}
}

// TestWatchSilentServerGivesUp: against a server that accepts
// connections and never answers, Watch gives up after MaxReconnects
// silent streams with an error wrapping client.ErrWatchSilent (it waited
// until its context ended).
func TestWatchSilentServerGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) }) // reads, never answers
		}
	})
	c, err := client.New("http://"+ln.Addr().String(), client.WithRetries(2, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Progress: the bound before the server's opening message is at
	// least three of the intervals asked for (of 1 s when none is).
	err = c.Watch(ctx, client.WatchOptions{MaxReconnects: 2, SilenceTimeout: 100 * time.Millisecond, Progress: 20 * time.Millisecond},
		func(client.WatchEvent) error { return nil })
	if !errors.Is(err, client.ErrWatchSilent) || ctx.Err() != nil {
		t.Fatalf("Watch = %v, want an error wrapping client.ErrWatchSilent before the context's end", err)
	}
	if !strings.Contains(err.Error(), "100ms") {
		t.Fatalf("Watch = %q, want the silence bound (100ms) named", err)
	}
}

// oldServer is a server from before the progress header: it opens the
// watch, stays silent for longer than the client's silence bound, then
// sends a change. It counts the watches opened.
type oldServer struct {
	closeServer
	opened *atomic.Int64
}

func (s oldServer) Watch(ctx context.Context, _ *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	s.opened.Add(1)
	if err := stream.Send(&mmsbv1.WatchResponse{ProgressLsn: 4}); err != nil {
		return err
	}
	t := time.NewTimer(2500 * time.Millisecond) // longer than SilenceTimeout below
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-t.C:
	}
	if err := stream.Send(&mmsbv1.WatchResponse{Changes: []*mmsbv1.Change{{Lsn: 5, Page: 1, Kind: "free"}}, ProgressLsn: 5}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestWatchOldServerNoWatchdog: a server that does not announce its
// progress interval (Mmsb-Progress-Ms) is watched for its opening message
// only: a quiet stretch after it does not drop the stream. (The bound,
// 1 s, is for the opening message, which comes at once: generous for a
// loaded machine.)
func TestWatchOldServerNoWatchdog(t *testing.T) {
	var opened atomic.Int64
	c := fakeClient(t, oldServer{opened: &opened})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errStop := errors.New("got the change")
	err := c.Watch(ctx, client.WatchOptions{FromLSN: 5, SilenceTimeout: time.Second}, func(ev client.WatchEvent) error {
		if len(ev.Changes) > 0 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Watch = %v, want the change delivered", err)
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("%d watches opened, want 1: the quiet stream was dropped", n)
	}
}
