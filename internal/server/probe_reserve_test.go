package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestProbesAnsweredWhenFull: with --max-requests 1 taken by a request
// in flight, /healthz and /readyz are still answered 200 (from the probe
// reserve), while another request is refused naming --max-requests; a
// probe with a body counts as any request. Until 2026-12-06 the probes
// were refused 503 while the bound was reached, and a liveness probe
// restarted a server that was merely busy, ending every open watch. The
// reserve is bounded too, for each path on its own: ProbeReservePerClient
// probes of a path held from one address, the next of that path and
// address is refused naming the reserve, and ProbeReserve over all
// addresses, the next of that path from any address is; the other path
// is still answered (control for the shared reserve before 2026-12-06:
// '/healthz from 192.0.2.3 ...: 503 ... probe reserve per client 8').
func TestProbesAnsweredWhenFull(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, server.ProbeReserve+8)
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hold") != "" {
			inside <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "ok\n")
	}), 1, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	defer func() { close(release); wg.Wait() }()
	// hold starts a request that stays in flight until the test ends.
	hold := func(method, target, addr string) {
		t.Helper()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest(method, target, nil)
			r.RemoteAddr = addr
			h.ServeHTTP(httptest.NewRecorder(), r)
		}()
		select {
		case <-inside:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s %s from %s was not admitted", method, target, addr)
		}
	}
	serve := func(method, target, addr, body string) *httptest.ResponseRecorder {
		var b io.Reader
		if body != "" {
			b = strings.NewReader(body)
		}
		r := httptest.NewRequest(method, target, b)
		r.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	refused := func(method, target, addr, body, want string) {
		t.Helper()
		rec := serve(method, target, addr, body)
		var e struct{ Code, Message string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusServiceUnavailable ||
			e.Code != "resource_exhausted" || !strings.Contains(e.Message, want) {
			t.Fatalf("%s %s from %s: %d %q; want 503, resource_exhausted naming %q", method, target, addr, rec.Code, rec.Body.String(), want)
		}
	}

	hold("GET", "/rpc?hold=1", "192.0.2.1:1000") // --max-requests 1 reached
	for _, p := range []struct{ method, target, addr string }{
		{"GET", "/healthz", "192.0.2.1:1001"}, // the client at its own bound too
		{"GET", "/readyz", "192.0.2.2:1000"},
		{"HEAD", "/healthz", "[2001:db8::1]:1000"},
	} {
		if rec := serve(p.method, p.target, p.addr, ""); rec.Code != http.StatusOK {
			t.Fatalf("%s %s from %s while --max-requests is reached: %d %q; want 200 (probes are answered from their reserve)",
				p.method, p.target, p.addr, rec.Code, rec.Body.String())
		}
	}
	refused("GET", "/rpc", "192.0.2.2:1001", "", "--max-requests 1")
	refused("GET", "/healthz", "192.0.2.2:1002", "x", "--max-requests 1") // a body: not a probe
	refused("POST", "/healthz", "192.0.2.2:1003", "", "--max-requests 1")

	// The reserve of each path: per client, then over all clients.
	// Readiness probes held (waiting for the bus) leave the liveness
	// probes' reserve alone: until 2026-12-06 the two paths shared one,
	// and 8 readiness probes of the prober's address waiting for the
	// bus's lock got its liveness probes refused.
	answered := func(target, addr string) {
		t.Helper()
		if rec := serve("GET", target, addr, ""); rec.Code != http.StatusOK {
			t.Fatalf("GET %s from %s while the other probe path's reserve is taken: %d %q; want 200 (each path has its own reserve)",
				target, addr, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
	}
	for i := 0; i < server.ProbeReservePerClient; i++ {
		hold("GET", "/readyz?hold=1", "192.0.2.3:1000")
	}
	refused("GET", "/readyz", "192.0.2.3:2000", "", "probe reserve per client 8")
	answered("/healthz", "192.0.2.3:2001")
	for n := server.ProbeReservePerClient; n < server.ProbeReserve; n++ {
		hold("GET", "/readyz?hold=1", "198.51.100."+strconv.Itoa(n/server.ProbeReservePerClient)+":1000")
	}
	refused("GET", "/readyz", "203.0.113.1:1000", "", "probe reserve 64")
	answered("/healthz", "203.0.113.1:1001")
	for n := 0; n < server.ProbeReserve; n++ {
		hold("GET", "/healthz?hold=1", "198.18.0."+strconv.Itoa(n/server.ProbeReservePerClient)+":1000")
		if n == server.ProbeReservePerClient-1 {
			refused("GET", "/healthz", "198.18.0.0:2000", "", "probe reserve per client 8")
		}
	}
	refused("GET", "/healthz", "203.0.113.2:1000", "", "probe reserve 64")
}

// TestUnreadProbesReleased: a client announcing an HTTP/2 window of 0
// that asks ProbeReserve health probes and never reads their answers
// has each stream reset within RefusalWriteGrace, which frees the
// reserve: a probe from elsewhere is answered 200 again. Until
// 2026-12-06 the unsent "ok" held each probe's slot until the
// connection closed (an open stream keeps it from idling), and a few
// addresses (ProbeReserve / ProbeReservePerClient) refused every
// liveness probe for as long as they liked (control: 'probe reserve
// 64' for 30 s, no stream reset).
func TestUnreadProbesReleased(t *testing.T) {
	var entered atomic.Int64
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		entered.Add(1)
		_, _ = io.WriteString(w, "ok\n")
	}), 1, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hs := server.NewHTTPServer(h, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback: the reserve's server-wide bound only
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	z := dialZeroWindowH2(t, ln.Addr().String())
	for i := range server.ProbeReserve {
		z.get(uint32(2*i+1), "/healthz")
	}
	z.send(t)
	probe := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/healthz", nil)
		r.RemoteAddr = "192.0.2.1:1000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	deadline := time.Now().Add(30 * time.Second) // a failure bound, not a timing assertion
	for entered.Load() < server.ProbeReserve {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d probes reached the handler", entered.Load(), server.ProbeReserve)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		nreset := 0
		for i := range server.ProbeReserve {
			if _, _, reset := z.state(uint32(2*i + 1)); reset {
				nreset++
			}
		}
		rec := probe()
		if rec.Code == http.StatusOK && nreset == server.ProbeReserve {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d unread probes over HTTP/2: %d of their streams reset; a probe from another address: %d %q; want every stream reset and 200",
				server.ProbeReserve, nreset, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProbeLookalikesCounted: requests that only look like health probes
// are counted against --max-requests, not answered from the probe
// reserve: a GET or HEAD of /healthz whose body comes chunked (no
// length), a path that names /healthz on the way elsewhere, another
// method, a path under /readyz. With --max-requests 1 taken each is
// refused naming --max-requests.
func TestProbeLookalikesCounted(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, 1)
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			inside <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "ok\n")
	}), 1, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/hold", nil))
	}()
	defer func() { close(release); <-done }()
	recv(t, inside, "held request in its handler")
	for _, tc := range []struct {
		method, target string
		chunked        bool
	}{
		{"GET", "/healthz", true},
		{"HEAD", "/readyz", true},
		{"GET", "/healthz/../metrics", false},
		{"GET", "/healthz/", false},
		{"GET", "/readyz/x", false},
		{"OPTIONS", "/healthz", false},
	} {
		var body io.Reader
		if tc.chunked {
			body = strings.NewReader("x")
		}
		r := httptest.NewRequest(tc.method, tc.target, body)
		if tc.chunked {
			r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "--max-requests 1") {
			t.Errorf("%s %s (chunked body %v) while --max-requests 1 is taken: %d %q; want 503 naming --max-requests 1 (not a probe)",
				tc.method, tc.target, tc.chunked, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
	}
}

// TestUnreadAnswersReleasedOnClose: requests whose small answers a
// client with an HTTP/2 window of 0 never reads hold their places in
// --max-requests (LimitRequests waits for the answer to be sent), and
// give them back when that client's connection closes: a request from
// elsewhere is refused while they are held, and answered 200 after.
func TestUnreadAnswersReleasedOnClose(t *testing.T) {
	var entered atomic.Int64
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		entered.Add(1)
		_, _ = io.WriteString(w, "small answer\n")
	}), 2, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hs := server.NewHTTPServer(h, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	z := dialZeroWindowH2(t, ln.Addr().String())
	z.get(1, "/a")
	z.get(3, "/a")
	z.send(t)
	get := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/b", nil))
		return rec.Code
	}
	deadline := time.Now().Add(30 * time.Second) // a failure bound, not a timing assertion
	for entered.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 2 unread requests reached the handler", entered.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code := get(); code != http.StatusServiceUnavailable {
		t.Fatalf("a request while 2 unread answers hold --max-requests 2: %d, want 503", code)
	}
	_ = z.c.Close()
	for {
		code := get()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a request after the connection holding --max-requests 2 closed: %d, want 200 (its places given back)", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
