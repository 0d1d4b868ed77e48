package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestFnPanicEndsStream: a panic in Watch's or QueryLog's function is
// not recovered (it is the caller's bug, and goes up the caller's stack
// as in any Go callback), but it does not leave the stream open: the
// server's watch ends, and the client serves later calls and watches.
func TestFnPanicEndsStream(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	defer hs.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()
	c, err := client.New(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	panicked := func(call func() error) (r any) {
		defer func() { r = recover() }()
		_ = call()
		return nil
	}
	if r := panicked(func() error {
		return c.Watch(ctx, client.WatchOptions{}, func(client.WatchEvent) error { panic("fn's bug") })
	}); r != "fn's bug" {
		t.Fatalf("Watch: recovered %v, want fn's panic", r)
	}
	if r := panicked(func() error {
		return c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { panic("fn's bug") })
	}); r != "fn's bug" {
		t.Fatalf("QueryLog: recovered %v, want fn's panic", r)
	}
	// The server sees the watch end (a bounded wait: the machine may be
	// loaded).
	for deadline := time.Now().Add(10 * time.Second); srv.Watchers() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d watches still open on the server after fn panicked", srv.Watchers())
		}
	}
	n := 0
	if err := c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { n++; return true }); err != nil || n != 1 {
		t.Fatalf("QueryLog after the panics: %d operations, %v", n, err)
	}
	stop := errors.New("stop")
	if err := c.Watch(ctx, client.WatchOptions{}, func(ev client.WatchEvent) error {
		if ev.ProgressLSN >= 1 {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) {
		t.Fatalf("Watch after the panics: %v", err)
	}
}
