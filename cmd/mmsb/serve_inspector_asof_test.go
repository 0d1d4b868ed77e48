package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestInspectorSharesTheServersAsOfSlots: the inspector `mmsb serve`
// mounts takes its as-of replays from the server's slots
// (--max-asof-reads), so a read-role user cannot run more replays at once
// through the page view than through Read. With the server's one slot
// held, the inspector's slot is not to be had until it is released.
func TestInspectorSharesTheServersAsOfSlots(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus, MaxAsOfReads: 1})
	if err != nil {
		t.Fatal(err)
	}
	o := inspectorOptions(bus, srv, nil, nil, 1<<20, 0)
	if o.AsOfSlot == nil {
		t.Fatal("the inspector's options take no as-of slot: its page views replay unbounded")
	}
	release, err := srv.AsOfSlot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if r, err := o.AsOfSlot(ctx); err == nil {
		r()
		t.Fatal("the inspector got an as-of slot while the server's only one was held")
	}
	release()
	r, err := o.AsOfSlot(context.Background())
	if err != nil {
		t.Fatalf("the inspector's as-of slot once the server's is free: %v", err)
	}
	r()
}

// TestInspectorSharesTheServersLogQuerySlots: the inspector's QueryLog
// streams take the server's log query slots (--max-log-queries): with the
// server's one slot held, the inspector's is refused until it is released.
func TestInspectorSharesTheServersLogQuerySlots(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus, MaxLogQueries: 1})
	if err != nil {
		t.Fatal(err)
	}
	o := inspectorOptions(bus, srv, nil, nil, 1<<20, 0)
	if o.LogQuerySlot == nil {
		t.Fatal("the inspector's options take no log query slot: its log queries run unbounded")
	}
	release, err := srv.LogQuerySlot()
	if err != nil {
		t.Fatal(err)
	}
	if r, err := o.LogQuerySlot(); err == nil {
		r()
		t.Fatal("the inspector got a log query slot while the server's only one was held")
	}
	release()
	r, err := o.LogQuerySlot()
	if err != nil {
		t.Fatalf("the inspector's log query slot once the server's is free: %v", err)
	}
	r()
}

// TestInspectorCallsTakeTheServeTimeout: the inspector's unary calls get
// serve's --timeout deadline when they bring none, as the bus service's
// do. They had none: an as-of page view waiting for a held as-of slot
// waited as long as its browser did. Here it ends after --timeout (100
// ms) with the server's own message, long before the client's 10 s.
func TestInspectorCallsTakeTheServeTimeout(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("old"))})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, MaxAsOfReads: 1})
	if err != nil {
		t.Fatal(err)
	}
	ins, err := inspector.New(inspectorOptions(bus, srv, nil, nil, 1<<20, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	mux := http.NewServeMux()
	ins.Mount(mux)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	c := inspectorv1connect.NewInspectorServiceClient(ts.Client(), ts.URL)
	release, err := srv.AsOfSlot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// A context with no deadline: a client's deadline travels with the
	// call, and --timeout applies to calls that bring none.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.GetPage(cctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(id), AsOfLsn: uint64(info.LastLSN), WindowLength: 8}))
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("an as-of page view waiting for a held slot still waits after 10 s; --timeout is 100 ms (then: %v)", <-done)
	}
	if connect.CodeOf(err) != connect.CodeDeadlineExceeded || !strings.Contains(err.Error(), "waiting for one of the 1 slots") {
		t.Fatalf("an as-of page view waiting for a held slot: %v (code %v), want the server's deadline_exceeded after --timeout", err, connect.CodeOf(err))
	}
}
