package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestServeInspectorRequestLimitNamed: the inspector `mmsb serve` mounts
// reads request messages of at most --max-request-bytes where that is
// under its own bound (1 MiB), and refuses a larger one, plain or
// gzipped, with resource_exhausted naming the flag and its value; one
// within it is served. Under the default --max-request-bytes (64 MiB)
// the inspector's own bound refuses a 2 MiB request, saying so. Until
// 2026-12-07 the refusal was Connect's "message size 2051 is larger than
// configured max 1024", and under the default a 2 MiB request was read
// (the read limit was --max-request-bytes), while a gzipped one inflated
// only up to the inspector's own 1 MiB, named nowhere.
func TestServeInspectorRequestLimitNamed(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()
	serve := func(maxRequestBytes int) *httptest.Server {
		ins, err := inspector.New(inspectorOptions(bus, srv, nil, nil, maxRequestBytes, 0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ins.Close() })
		mux := http.NewServeMux()
		ins.Mount(mux)
		ts := httptest.NewServer(mux)
		t.Cleanup(ts.Close)
		return ts
	}
	ts := serve(1024)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		opts []connect.ClientOption
		want string
	}{
		{"plain", nil, "more than --max-request-bytes 1024"},
		{"gzipped", []connect.ClientOption{connect.WithSendGzip()}, "a compressed message inflating past --max-request-bytes 1024"},
	} {
		cl := inspectorv1connect.NewInspectorServiceClient(ts.Client(), ts.URL, c.opts...)
		_, err := cl.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{Search: strings.Repeat("7", 2048)}))
		if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: a ListPages of 2 KiB past --max-request-bytes 1024: %v; want resource_exhausted with %q", c.name, err, c.want)
		}
		if _, err := cl.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{Search: "7"})); err != nil {
			t.Errorf("%s: a ListPages within --max-request-bytes: %v", c.name, err)
		}
	}
	def := serve(server.DefaultMaxRequestBytes)
	cl := inspectorv1connect.NewInspectorServiceClient(def.Client(), def.URL)
	_, err = cl.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{Search: strings.Repeat("7", 2<<20)}))
	const own = "more than the inspector's request bound (--max-request-bytes may only lower it) 1048576"
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), own) {
		t.Errorf("a ListPages of 2 MiB under the default --max-request-bytes: %v; want resource_exhausted with %q", err, own)
	}
}
