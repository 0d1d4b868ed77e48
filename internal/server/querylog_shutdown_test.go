package server_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestShutdownCutsStalledQueryLog: a QueryLog whose client opened the
// stream and stopped reading is blocked in a write, where its context's
// end does not reach it; Shutdown ends the query and gives its writer a
// deadline, so that the HTTP server's shutdown returns long before its
// own deadline (an hour here). Until 2026-12-06 such a client held the
// shutdown to --shutdown-timeout: streams were left to it as unary calls
// are, though a query (it only reads) has no result a shutdown would
// lose.
func TestShutdownCutsStalledQueryLog(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2 cleartext"} {
		t.Run(proto, func(t *testing.T) {
			f := newFixture(t, fixOpts{dir: t.TempDir()})
			ctx := context.Background()
			id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			commitMiBs(t, f, id, 64) // more than the socket buffers and an HTTP/2 stream's window hold: the query blocks writing
			stalled := testutil.StalledStream(t, f.http.URL, "/mmsb.v1.BusService/QueryLog", []byte(`{}`), proto, true)
			defer stalled.Close()
			sctx, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			done := make(chan error, 2)
			go func() { done <- f.srv.Shutdown(sctx) }()
			go func() { done <- f.http.Config.Shutdown(sctx) }()
			for range 2 {
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(30 * time.Second): // a failure bound, not a timing assertion
					f.http.CloseClientConnections()
					t.Fatal("the shutdown still waits for the QueryLog whose client stopped reading")
				}
			}
		})
	}
}

// TestShutdownEndsQueryLog: a QueryLog running when Shutdown begins ends
// at once (between two operations of one record here) with Unavailable,
// saying the server is shutting down and where to resume; its client
// keeps what it received. The query is held by a hook at its 300th
// operation until Shutdown has begun; without the cut it ran to its end.
func TestShutdownEndsQueryLog(t *testing.T) {
	reached, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	var ops atomic.Int64
	f := newFixture(t, fixOpts{dir: t.TempDir(), setup: func(s *server.Server) {
		server.SetQueryLogHook(s, func(context.Context) {
			if ops.Add(1) == 300 {
				close(reached)
				<-release
			}
		})
	}})
	defer releaseOnce.Do(func() { close(release) })
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 4096}) // LSN 1
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]mmsb.Delta, 400) // LSNs 2..401, one log record
	for i := range batch {
		batch[i] = mmsb.Write(id, uint32(i), []byte{byte(i)})
	}
	if _, err := f.c.Commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	delivered := 0
	done := make(chan error, 1)
	go func() {
		done <- f.c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { delivered++; return true })
	}()
	recv(t, reached, "query reaching its hook")
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	releaseOnce.Do(func() { close(release) })
	err = recv(t, done, "end of the QueryLog cut by Shutdown")
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("QueryLog cut by Shutdown: %v (code %v), want unavailable", err, connect.CodeOf(err))
	}
	for _, want := range []string{"server shutting down", "after the operation at LSN 256 (resume from LSN 257)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("QueryLog cut by Shutdown: %v: want %q in it", err, want)
		}
	}
	if delivered != 256 {
		t.Errorf("delivered %d operations before the cut, want the first message's 256", delivered)
	}
}

// streamErrors is an interceptor that hands each stream handler's error
// (nil included) to errs.
type streamErrors struct{ errs chan error }

func (s streamErrors) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }
func (s streamErrors) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}
func (s streamErrors) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		err := next(ctx, conn)
		s.errs <- err
		return err
	}
}

// TestQueryLogCancelledMidRecordFails: a QueryLog whose client goes away
// between two operations of one record ends with the context's error,
// not as an answer that was whole (the query stops between operations,
// where the bus's query returns nil). The client cancels while a hook
// holds the query at its 300th operation until the server has seen it go.
func TestQueryLogCancelledMidRecordFails(t *testing.T) {
	reached := make(chan struct{})
	var ops atomic.Int64
	handled := streamErrors{errs: make(chan error, 1)}
	f := newFixture(t, fixOpts{dir: t.TempDir(), http: server.HTTPOptions{OuterInterceptors: []connect.Interceptor{handled}},
		setup: func(s *server.Server) {
			server.SetQueryLogHook(s, func(ctx context.Context) {
				if ops.Add(1) == 300 {
					close(reached)
					<-ctx.Done() // the server has seen its client go
				}
			})
		}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]mmsb.Delta, 400)
	for i := range batch {
		batch[i] = mmsb.Write(id, uint32(i), []byte{byte(i)})
	}
	if _, err := f.c.Commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.c.QueryLog(qctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { return true }) }()
	recv(t, reached, "query reaching its 300th operation")
	cancel()
	recv(t, done, "client's QueryLog end")
	if err := recv(t, handled.errs, "server's QueryLog end"); connect.CodeOf(err) != connect.CodeCanceled {
		t.Fatalf("the server's QueryLog, its client gone mid-record: %v (code %v), want canceled", err, connect.CodeOf(err))
	}
}
