package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
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
// reserve is bounded too: ProbeReservePerClient probes held from one
// address, the next of that address is refused naming the reserve, and
// ProbeReserve over all addresses, the next of any address is.
func TestProbesAnsweredWhenFull(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, server.ProbeReserve+8)
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" || r.URL.Query().Get("hold") != "" {
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

	hold("GET", "/metrics", "192.0.2.1:1000") // --max-requests 1 reached
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
	refused("GET", "/metrics", "192.0.2.2:1001", "", "--max-requests 1")
	refused("GET", "/healthz", "192.0.2.2:1002", "x", "--max-requests 1") // a body: not a probe
	refused("POST", "/healthz", "192.0.2.2:1003", "", "--max-requests 1")

	// The reserve: per client, then over all clients.
	for i := 0; i < server.ProbeReservePerClient; i++ {
		hold("GET", "/readyz?hold=1", "192.0.2.3:1000")
	}
	refused("GET", "/healthz", "192.0.2.3:2000", "", "probe reserve per client 8")
	for n := server.ProbeReservePerClient; n < server.ProbeReserve; n++ {
		hold("GET", "/readyz?hold=1", "198.51.100."+strconv.Itoa(n/server.ProbeReservePerClient)+":1000")
	}
	refused("GET", "/healthz", "203.0.113.1:1000", "", "probe reserve 64")
}
