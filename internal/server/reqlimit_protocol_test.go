package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestLimitRequestsStreamRefusal: with --max-requests 1 held by one
// request, a watch asked for over Connect, gRPC and gRPC-Web, and a
// Connect unary call, each get resource_exhausted with the message naming
// "--max-requests 1", as the Go client and other Connect and gRPC
// clients decode them. Until 2026-12-06 the refusal was a 503 with a JSON
// body for every protocol: Connect's streaming and gRPC clients take a
// non-200 answer's code from its HTTP status, so a refused watch or log
// query was unavailable "HTTP status 503 Service Unavailable", naming
// neither the bound nor its flag, and the Go client's Watch took it for a
// broken stream and reconnected until its reconnections ran out.
func TestLimitRequestsStreamRefusal(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
	}), 1, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hs := server.NewHTTPServer(h, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	base := "http://" + ln.Addr().String()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true) // gRPC needs HTTP/2
	hc := &http.Client{Transport: &http.Transport{Protocols: &p}}
	t.Cleanup(hc.CloseIdleConnections)

	// The one request the server admits, held until the test ends.
	heldDone := make(chan struct{})
	go func() {
		defer close(heldDone)
		if resp, err := hc.Get(base + "/held"); err == nil {
			_ = resp.Body.Close()
		}
	}()
	t.Cleanup(func() { close(release); <-heldDone })
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the first request was not admitted")
	}

	const want = "--max-requests 1"
	check := func(what string, err error) {
		t.Helper()
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || !strings.Contains(ce.Message(), want) {
			t.Errorf("%s beyond --max-requests: %v (code %v); want resource_exhausted naming %q", what, err, connect.CodeOf(err), want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, proto := range []struct {
		name string
		opts []connect.ClientOption
	}{{"Connect", nil}, {"gRPC", []connect.ClientOption{connect.WithGRPC()}}, {"gRPC-Web", []connect.ClientOption{connect.WithGRPCWeb()}}} {
		c := mmsbv1connect.NewBusServiceClient(hc, base, proto.opts...)
		s, err := c.Watch(ctx, connect.NewRequest(&mmsbv1.WatchRequest{}))
		if err == nil {
			for s.Receive() {
				t.Errorf("%s watch beyond --max-requests: a change came", proto.name)
			}
			err = s.Err()
			_ = s.Close()
		}
		check(proto.name+" watch", err)
		_, err = c.Stats(ctx, connect.NewRequest(&mmsbv1.StatsRequest{}))
		check(proto.name+" unary call", err)
	}
}

// TestLoopbackIPv6NotPerClient: with 1 request per client, two requests
// from ::1 and two from ::ffff:127.0.0.1 are all admitted, loopback being
// exempt from the per-client bounds, while a second one from ::2 (not
// loopback, though in ::1's /64) is refused naming
// --max-requests-per-client. Until 2026-12-06 the exemption tested ::1's
// key, its /64 "::/64", whose address :: is no loopback address: the
// second request from ::1 was refused, and so were `mmsb loadtest`'s
// connections past 64 against a server on [::1] (LimitConns shares the
// test).
func TestLoopbackIPv6NotPerClient(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, 8)
	h := server.LimitRequests(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		inside <- struct{}{}
		<-release
	}), 100, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	serve := func(addr string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		wg.Add(1)
		go func() { defer wg.Done(); h.ServeHTTP(rec, r); close(done) }()
		select {
		case <-inside:
			return nil
		case <-done:
			return rec
		case <-time.After(30 * time.Second):
			t.Fatalf("a request from %s was neither admitted nor refused", addr)
			return nil
		}
	}
	for _, a := range []string{"[::1]:1", "[::1]:2", "[::ffff:127.0.0.1]:3", "[::ffff:127.0.0.1]:4", "[::2]:5"} {
		if rec := serve(a); rec != nil {
			t.Fatalf("request from %s refused with 1 per client: %d %s; loopback is not bounded per client", a, rec.Code, rec.Body.String())
		}
	}
	if rec := serve("[::2]:6"); rec == nil || rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "--max-requests-per-client 1") {
		t.Fatalf("a second request from ::2 was not refused by --max-requests-per-client 1: %v", rec)
	}
}
