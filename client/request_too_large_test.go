package client_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestRequestOverServerLimitNamed: a Commit larger than the server's
// --max-request-bytes fails with ResourceExhausted naming that flag and
// its value, not the client's read limit. Control: the server's refusal
// was connect's "message size N is larger than configured max M", which
// the client took for an answer over its own read limit ("client:
// Commit: the answer is larger than this client reads ...: raise it
// with WithConnectOptions"), sending its user to raise the wrong bound.
func TestRequestOverServerLimitNamed(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(ctx) }()
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{MaxRequestBytes: 1024}))
	defer hs.Close()
	c, err := client.New(hs.URL, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, make([]byte, 2048))})
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "--max-request-bytes 1024") ||
		strings.Contains(err.Error(), "this client reads") {
		t.Fatalf("a Commit of 2 KiB under --max-request-bytes 1024: %v; want resource_exhausted naming --max-request-bytes 1024, not the client's read limit", err)
	}
	if _, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, make([]byte, 512))}); err != nil {
		t.Fatalf("a Commit of 512 bytes under --max-request-bytes 1024: %v", err)
	}
}

// TestGzipRequestOverServerLimitNamed: a gzipped Commit inflating past
// the server's --max-request-bytes fails with ResourceExhausted naming
// that flag, not the client's read limit. Control: the server's refusal
// was connect's "message is larger than configured max 1024 - unable to
// determine message size: ...", which the client took for an answer over
// its own read limit, telling its user to raise connect.WithReadMaxBytes.
func TestGzipRequestOverServerLimitNamed(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(ctx) }()
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{MaxRequestBytes: 1024}))
	defer hs.Close()
	c, err := client.New(hs.URL, client.WithRetries(0, 0), client.WithConnectOptions(connect.WithSendGzip()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, make([]byte, 2048))})
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "--max-request-bytes 1024") ||
		strings.Contains(err.Error(), "this client reads") {
		t.Fatalf("a gzipped Commit inflating to 2 KiB under --max-request-bytes 1024: %v; want resource_exhausted naming --max-request-bytes 1024, not the client's read limit", err)
	}
	if _, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, make([]byte, 512))}); err != nil {
		t.Fatalf("a gzipped Commit of 512 bytes under --max-request-bytes 1024: %v", err)
	}
}
