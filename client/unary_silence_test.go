package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// silentSetup is a server with one 8-byte page, behind a freezingProxy
// (watch_silence_test.go), speaking HTTP/1.1 and cleartext HTTP/2, or
// with tls HTTP/1.1 and HTTP/2 over TLS. It returns the proxy, the page,
// and the options a client of the proxy needs (WithTLS trusting the
// server's certificate, or none).
func silentSetup(t *testing.T, withTLS bool) (*freezingProxy, mmsb.PageID, []client.Option) {
	t.Helper()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := server.New(server.Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Mux(server.HTTPOptions{}))
	var opts []client.Option
	if withTLS {
		hs.EnableHTTP2 = true
		hs.StartTLS()
		pool := x509.NewCertPool()
		pool.AddCert(hs.Certificate())
		opts = append(opts, client.WithTLS(&tls.Config{RootCAs: pool}))
	} else {
		var protos http.Protocols
		protos.SetHTTP1(true)
		protos.SetUnencryptedHTTP2(true)
		hs.Config.Protocols = &protos
		hs.Start()
	}
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	id, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(context.Background(), []mmsb.Delta{mmsb.Write(id, 0, []byte{7})}); err != nil {
		t.Fatal(err)
	}
	_, addr, _ := strings.Cut(hs.URL, "://")
	return newFreezingProxy(t, addr), id, opts
}

// Short bounds for the tests: a ping after 200 ms without a frame, the
// connection dead after 1 s without its answer. The call made right after
// a freeze is on the frozen connection as long as it starts within 1.2 s
// of it (the connection is closed only then).
const (
	testPingAfter   = 200 * time.Millisecond
	testPingTimeout = time.Second
)

// TestUnarySilentConnection: over HTTP/2 (gRPC in cleartext, and Connect
// over TLS, where ALPN chooses HTTP/2) a unary call
// and a QueryLog on a connection that goes silent (a proxy that stops
// forwarding bytes without closing it: a hung server, a half-open
// connection) fail with an error wrapping client.ErrConnectionSilent,
// naming the bounds, once the connection's ping goes unanswered, well
// before their context ends; the next call opens a new connection and
// succeeds. With retries, the idempotent call itself is retried there and
// succeeds. Before 2026-12-06 the transport made no pings, and each call
// waited until its context ended (without a deadline, for ever).
func TestUnarySilentConnection(t *testing.T) {
	t.Run("gRPC over cleartext HTTP/2", func(t *testing.T) {
		t.Parallel()
		testUnarySilentConnection(t, false)
	})
	t.Run("Connect over HTTP/2 with TLS", func(t *testing.T) {
		t.Parallel()
		testUnarySilentConnection(t, true)
	})
}

func testUnarySilentConnection(t *testing.T, withTLS bool) {
	proxy, id, opts := silentSetup(t, withTLS)
	url := "http://" + proxy.addr()
	if withTLS {
		url = "https://" + proxy.addr()
	} else {
		opts = append(opts, client.WithGRPC())
	}
	c, err := client.New(url, append([]client.Option{client.WithRetries(0, 0),
		client.WithPings(testPingAfter, testPingTimeout)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// The deadline is the bound of the wait, far beyond the pings'.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := func() error {
		data, _, _, err := c.ReadPage(ctx, id)
		if err == nil && data[0] != 7 {
			t.Fatalf("ReadPage = %v, want 7 first", data)
		}
		return err
	}
	queryLog := func() error {
		n := 0
		err := c.QueryLog(ctx, mmsb.LogQuery{Page: id}, func(*mmsb.LoggedOp) bool { n++; return true })
		if err == nil && n == 0 {
			t.Fatal("QueryLog delivered no operation")
		}
		return err
	}
	for _, call := range []struct {
		name string
		fn   func() error
	}{{"ReadPage", read}, {"QueryLog", queryLog}} {
		var err error
		var conns int64
		for try := 1; ; try++ {
			if err := call.fn(); err != nil {
				t.Fatalf("%s before the freeze: %v", call.name, err)
			}
			conns = proxy.accepted.Load()
			proxy.freeze()
			err = call.fn()
			if err != nil || try == 3 {
				break
			}
			// The call came only after the silent connection was closed,
			// on a new one (a stall of over a second on a loaded
			// machine): again. Without pings it never returns.
			t.Logf("%s: try %d came after the silent connection closed", call.name, try)
		}
		if ctx.Err() != nil {
			t.Fatalf("%s on the silent connection waited for its context: %v", call.name, err)
		}
		if !errors.Is(err, client.ErrConnectionSilent) || connect.CodeOf(err) != connect.CodeUnavailable {
			t.Fatalf("%s on the silent connection = %v, want an error wrapping client.ErrConnectionSilent, code unavailable", call.name, err)
		}
		if !strings.Contains(err.Error(), "200ms") || !strings.Contains(err.Error(), "1s") {
			t.Fatalf("%s = %q, want the bounds (200ms, 1s) named", call.name, err)
		}
		if err := call.fn(); err != nil {
			t.Fatalf("%s after the silent connection closed: %v", call.name, err)
		}
		if n := proxy.accepted.Load(); n <= conns {
			t.Fatalf("%s: %d connection(s), want a new one after the silent one", call.name, n)
		}
	}

	// With retries (the default), the idempotent call goes again on a new
	// connection and succeeds.
	r, err := client.New(url, append([]client.Option{client.WithRetries(4, time.Millisecond),
		client.WithPings(testPingAfter, testPingTimeout)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if _, _, _, err := r.ReadPage(ctx, id); err != nil {
		t.Fatal(err)
	}
	proxy.freeze()
	if _, _, _, err := r.ReadPage(ctx, id); err != nil {
		t.Fatalf("ReadPage with retries on the silent connection = %v, want it retried on a new one", err)
	}
}

// TestPingsOptions: WithPings' values are checked, and a caller's HTTP
// client is never changed: New refuses WithPings with WithHTTPClient, and
// leaves that client's transport without a health check.
func TestPingsOptions(t *testing.T) {
	for _, tc := range []struct {
		name          string
		after, wait   time.Duration
		hc            *http.Client
		refused, want string
	}{
		{name: "negative after", after: -1, wait: time.Second, refused: "neither may be negative"},
		{name: "negative timeout", after: time.Second, wait: -1, refused: "neither may be negative"},
		{name: "zero timeout", after: time.Second, refused: "nor the timeout 0"},
		{name: "with WithHTTPClient", after: time.Second, wait: time.Second, hc: &http.Client{}, refused: "WithHTTPClient"},
		{name: "off", after: 0, wait: 0},
		{name: "off, timeout ignored", after: 0, wait: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []client.Option{client.WithPings(tc.after, tc.wait)}
			if tc.hc != nil {
				opts = append(opts, client.WithHTTPClient(tc.hc))
			}
			c, err := client.New("http://127.0.0.1:1", opts...)
			if tc.refused == "" {
				if err != nil {
					t.Fatalf("New = %v, want it accepted", err)
				}
				_ = c.Close()
				return
			}
			if !errors.Is(err, mmsb.ErrInvalidOption) || !strings.Contains(err.Error(), tc.refused) {
				t.Fatalf("New = %v, want mmsb.ErrInvalidOption naming %q", err, tc.refused)
			}
		})
	}
	tr := &http.Transport{}
	c, err := client.New("http://127.0.0.1:1", client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if tr.HTTP2 != nil || tr.Protocols != nil {
		t.Fatalf("New changed the caller's transport: HTTP2 %+v, Protocols %v", tr.HTTP2, tr.Protocols)
	}
}

// TestHTTP1SilentCallBoundByContext documents HTTP/1.1 (Connect over
// http://, the default there): no pings, so a call on a connection that
// goes silent is bounded by its context only (here a 500 ms deadline);
// the connection is closed then, and the next call opens a new one and
// succeeds. (Each HTTP/1.1 connection carries one call at a time: a
// silent one holds no other call.)
func TestHTTP1SilentCallBoundByContext(t *testing.T) {
	proxy, id, _ := silentSetup(t, false)
	c, err := client.New("http://"+proxy.addr(), client.WithRetries(0, 0), client.WithPings(testPingAfter, testPingTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var conns int64
	for try := 1; ; try++ {
		if _, _, _, err := c.ReadPage(ctx, id); err != nil {
			t.Fatal(err)
		}
		conns = proxy.accepted.Load()
		proxy.freeze()
		sctx, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
		// The idle connection, the frozen one, carries this call, unless
		// the transport had not yet taken it back from the call before
		// and dialed a new one: then it succeeds, and the test goes again.
		_, _, _, err = c.ReadPage(sctx, id)
		scancel()
		if err != nil || try == 3 {
			break
		}
		t.Logf("try %d went on a new connection", try)
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, client.ErrConnectionSilent) {
		t.Fatalf("ReadPage on the silent HTTP/1.1 connection = %v, want its context's deadline", err)
	}
	if data, _, _, err := c.ReadPage(ctx, id); err != nil || data[0] != 7 {
		t.Fatalf("ReadPage after the silent call = %v, %v", data, err)
	}
	if n := proxy.accepted.Load(); n <= conns {
		t.Fatalf("%d connections, want a new one after the silent one", n)
	}
}
