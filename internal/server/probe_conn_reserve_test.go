package server_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/server"
)

// probeConnServer serves /healthz and /metrics behind LimitRequests on a
// LimitConns listener of maxConns connections with a probe reserve of
// total connections (perClient of one client, life each), as mmsb serve
// does (over TLS with tlsCfg). It returns the address, the listener and a channel that receives
// once per connection the listener closed unanswered.
func probeConnServer(t *testing.T, tlsCfg *tls.Config, maxConns, total, perClient int, life time.Duration) (addr string, ln net.Listener, refused chan struct{}) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln = server.LimitConns(raw, maxConns, 0, quiet)
	if err := server.ReserveProbeConns(ln, total, perClient, life); err != nil {
		t.Fatal(err)
	}
	refused = make(chan struct{}, 64)
	server.SetConnRefusedHook(ln, func() { refused <- struct{}{} })
	serving := ln
	if tlsCfg != nil {
		serving = tls.NewListener(ln, tlsCfg) // as mmsb serve: the bounds before the handshake
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metrics\n") })
	hs := server.NewHTTPServer(server.LimitRequests(mux, 0, 0, quiet), 0, quiet)
	go func() { _ = hs.Serve(serving) }()
	t.Cleanup(func() { _ = hs.Close() })
	return raw.Addr().String(), ln, refused
}

// holdConn opens a connection the server accepts within its bounds and
// holds (a keep-alive connection after a probe, which the server keeps
// for its idle timeout of minutes), once it is surely counted.
func holdConn(t *testing.T, addr string, clientTLS *tls.Config) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: clientTLS.Clone()} // a transport changes its config
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get(scheme(clientTLS) + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("the first connection's /metrics: %d %q (closes %v); want 200 on a connection kept open", resp.StatusCode, b, resp.Close)
	}
}

// get asks for path on a connection of its own and returns the answer's
// status, body, Mmsb-Busy header and whether the server closes the
// connection after it.
func get(t *testing.T, addr, path string, h2 bool, clientTLS *tls.Config) (status int, body, busy string, closes bool, err error) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: clientTLS.Clone()} // a transport changes its config
	var p http.Protocols
	switch {
	case h2 && clientTLS == nil:
		p.SetUnencryptedHTTP2(true)
	case h2:
		p.SetHTTP2(true)
	default:
		p.SetHTTP1(true)
	}
	tr.Protocols = &p
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 30 * time.Second} // a failure bound, not a timing assertion
	resp, err := cl.Get(scheme(clientTLS) + addr + path)
	if err != nil {
		return 0, "", "", false, err
	}
	defer resp.Body.Close()
	if (resp.ProtoMajor == 2) != h2 {
		t.Fatalf("%s answered over %s; want HTTP/2 %v", path, resp.Proto, h2)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Mmsb-Busy"), resp.Close, nil
}

func scheme(clientTLS *tls.Config) string {
	if clientTLS != nil {
		return "https://"
	}
	return "http://"
}

// TestProbeAnsweredAtMaxConns: with --max-conns 1 held by an open
// connection, a health probe's new connection is taken from the probe
// reserve and answered 200 "ok" (over HTTP/1.1, saying Connection: close,
// and over HTTP/2), while any other request on such a connection is
// refused resource_exhausted naming --max-conns (Mmsb-Busy) instead of
// reaching its handler. Until 2026-12-07 a probe's connection at
// --max-conns was closed unanswered like any other, and a liveness probe
// restarted a server that was merely busy. The reserve is bounded:
// connections beyond it (here 1, held open) are closed unanswered, and a
// connection of the reserve that carries nothing is closed at its life's
// end, giving its place back.
func TestProbeAnsweredAtMaxConns(t *testing.T) {
	t.Run("cleartext", func(t *testing.T) { testProbeAnsweredAtMaxConns(t, nil, nil) })
	t.Run("TLS", func(t *testing.T) {
		ca := newCA(t)
		serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.issue(t, 2, "", true)}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
		testProbeAnsweredAtMaxConns(t, serverTLS, &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12})
	})
}

// reserveOpen waits until n connections of ln's probe reserve are open
// (one closing after its answer gives its place back once the server has
// closed it).
func reserveOpen(t *testing.T, ln net.Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for server.ProbeConnsOpen(ln) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections of the probe reserve open; want %d", server.ProbeConnsOpen(ln), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testProbeAnsweredAtMaxConns(t *testing.T, serverTLS, clientTLS *tls.Config) {
	// A life far longer than any probe takes on a loaded machine: the
	// life's end is tested on a server of its own (cleartext below).
	addr, ln, _ := probeConnServer(t, serverTLS, 1, 1, 0, time.Minute)
	holdConn(t, addr, clientTLS)
	reserveOpen := func(n int) { t.Helper(); reserveOpen(t, ln, n) }
	for _, h2 := range []bool{false, true} {
		reserveOpen(0)
		status, body, _, closes, err := get(t, addr, "/healthz", h2, clientTLS)
		if err != nil || status != http.StatusOK || body != "ok\n" {
			t.Fatalf("/healthz at --max-conns (HTTP/2 %v): status %d, body %q, err %v; want 200 ok", h2, status, body, err)
		}
		if !h2 && !closes {
			t.Fatal("/healthz on a probe connection over HTTP/1.1 does not say Connection: close")
		}
	}
	reserveOpen(0) // the probes' connections above are closed
	status, body, busy, _, err := get(t, addr, "/metrics", false, clientTLS)
	var e struct{ Code, Message string }
	if err != nil || status != http.StatusServiceUnavailable || busy != "--max-conns" || json.Unmarshal([]byte(body), &e) != nil ||
		e.Code != "resource_exhausted" || !strings.Contains(e.Message, "(--max-conns 1)") || !strings.Contains(e.Message, "health probes only") {
		t.Fatalf("/metrics at --max-conns: status %d, body %q, Mmsb-Busy %q, err %v; want 503 resource_exhausted naming --max-conns 1 and the probes", status, body, busy, err)
	}
	if serverTLS == nil {
		testProbeReserveLifeEnds(t)
	}
}

// testProbeReserveLifeEnds: the reserve is full while one connection
// holds its place: the next is closed unanswered, until the first one's
// life (3 s here) ends.
func testProbeReserveLifeEnds(t *testing.T) {
	var clientTLS *tls.Config
	addr, ln, refused := probeConnServer(t, nil, 1, 1, 0, 3*time.Second)
	holdConn(t, addr, clientTLS)
	reserveOpen := func(n int) { t.Helper(); reserveOpen(t, ln, n) }
	reserveOpen(0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reserveOpen(1)
	d, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	select {
	case <-refused:
	case <-time.After(30 * time.Second):
		t.Fatal("a connection beyond the probe reserve of 1 was not refused")
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a failure bound, not a timing assertion
	if n, err := c.Read(make([]byte, 1)); n > 0 || err == nil || errorsIsTimeout(err) {
		t.Fatalf("a probe connection carrying nothing read %d bytes, err %v; want it closed at its life's end", n, err)
	}
	reserveOpen(0)
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, _, _, err := get(t, addr, "/healthz", false, clientTLS)
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz after the probe connection's life ended: status %d, err %v; want 200", status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProbeConnReservePerClient: one client holds at most perClient
// connections of the probe reserve; another client still gets one. So
// too without a per-client bound of connections (--max-conns-per-client
// 0): until 2026-12-07 one client could then take the whole reserve.
func TestProbeConnReservePerClient(t *testing.T) {
	t.Run("conns per client 1", func(t *testing.T) { testProbeConnReservePerClient(t, 1) })
	t.Run("no conns per client bound", func(t *testing.T) { testProbeConnReservePerClient(t, 0) })
}

func testProbeConnReservePerClient(t *testing.T, connsPerClient int) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln := server.LimitConns(raw, 1, connsPerClient, quiet)
	defer ln.Close()
	server.CountLoopbackClients(ln)
	if err := server.ReserveProbeConns(ln, 4, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	refused := make(chan struct{}, 8)
	server.SetConnRefusedHook(ln, func() { refused <- struct{}{} })
	acc := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
			acc <- c
		}
	}()
	dial := func(from string) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			if from != "127.0.0.1" {
				t.Skipf("cannot connect from %s (a system without all of 127.0.0.0/8 on loopback): %v", from, err)
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	want := func(from string, accepted bool) {
		t.Helper()
		dial(from)
		select {
		case <-acc:
			if !accepted {
				t.Fatalf("a connection from %s was accepted; want it refused (its share of the probe reserve is taken)", from)
			}
		case <-refused:
			if accepted {
				t.Fatalf("a connection from %s was refused; want it accepted", from)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("a connection from %s was neither accepted nor refused", from)
		}
	}
	want("127.0.0.1", true)  // within --max-conns 1
	want("127.0.0.1", true)  // the probe reserve
	want("127.0.0.1", false) // its share of the reserve (1) is taken
	want("127.0.0.2", true)  // another client's share
	if err := server.ReserveProbeConns(raw, 1, 1, 0); err == nil {
		t.Fatal("ReserveProbeConns took a listener LimitConns did not return")
	}
}
