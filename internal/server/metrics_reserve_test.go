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

	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestMetricsAnsweredWhenFull: with --max-requests 1 taken by a request
// in flight, GET and HEAD /metrics are still answered (from a reserve of
// their own, MetricsReserve), as the health probes are: an operator needs
// the metrics most when the server is saturated. Until 2026-12-07 they
// were refused 503 naming --max-requests. The reserve is bounded:
// MetricsReservePerClient scrapes held from one address, the next from it
// is refused naming the per-client reserve; MetricsReserve over all
// addresses, the next from any address is refused naming the reserve,
// while /healthz is still answered from its own. Another request is still
// refused naming --max-requests (the control).
func TestMetricsAnsweredWhenFull(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, server.MetricsReserve+8)
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hold") != "" {
			inside <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "ok\n")
	}), 1, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	defer func() { close(release); wg.Wait() }()
	hold := func(target, addr string) {
		t.Helper()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", target, nil)
			r.RemoteAddr = addr
			h.ServeHTTP(httptest.NewRecorder(), r)
		}()
		testutil.Recv(t, inside, target+" from "+addr+" was not admitted")
	}
	serve := func(method, target, addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		r.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	refused := func(target, addr, want string) {
		t.Helper()
		rec := serve("GET", target, addr)
		var e struct{ Code, Message string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusServiceUnavailable ||
			e.Code != "resource_exhausted" || !strings.Contains(e.Message, want) {
			t.Fatalf("GET %s from %s: %d %q; want 503, resource_exhausted naming %q", target, addr, rec.Code, rec.Body.String(), want)
		}
	}
	hold("/rpc?hold=1", "192.0.2.1:1000") // --max-requests 1 reached
	refused("/rpc", "192.0.2.2:1000", "--max-requests 1")
	for _, method := range []string{"GET", "HEAD"} {
		if rec := serve(method, "/metrics", "192.0.2.1:1001"); rec.Code != http.StatusOK {
			t.Fatalf("%s /metrics while --max-requests is reached: %d %q; want 200 (answered from the metrics reserve)",
				method, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
	}
	for i := 0; i < server.MetricsReservePerClient; i++ {
		hold("/metrics?hold=1", "192.0.2.3:1000")
	}
	refused("/metrics", "192.0.2.3:2000", "metrics reserve per client "+strconv.Itoa(server.MetricsReservePerClient))
	for n := server.MetricsReservePerClient; n < server.MetricsReserve; n++ {
		hold("/metrics?hold=1", "198.51.100."+strconv.Itoa(n)+":1000")
	}
	refused("/metrics", "203.0.113.1:1000", "metrics reserve "+strconv.Itoa(server.MetricsReserve))
	if rec := serve("GET", "/healthz", "203.0.113.1:1001"); rec.Code != http.StatusOK {
		t.Fatalf("/healthz with the metrics reserve taken: %d; want 200 (a reserve of its own)", rec.Code)
	}
}

// TestMetricsCountedBelowBounds: while --max-requests and
// --max-requests-per-client admit it, /metrics counts as any request, and
// its reserve is left for a server at its bounds. Until 2026-12-07 (the
// day the reserve came) every scrape took the reserve: clients at
// MetricsReserve/MetricsReservePerClient addresses holding unread scrapes
// (each up to the answer's write timeout) left no operator the metrics of
// a server far from its bounds.
func TestMetricsCountedBelowBounds(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, 2*server.MetricsReserve+2)
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hold") != "" {
			inside <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "ok\n")
	}), 64, 64, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	defer func() { close(release); wg.Wait() }()
	for n := 0; n <= server.MetricsReserve; n++ {
		for j := 0; j < server.MetricsReservePerClient+1; j++ {
			wg.Add(1)
			addr := "198.51.100." + strconv.Itoa(n) + ":" + strconv.Itoa(1000+j)
			go func() {
				defer wg.Done()
				r := httptest.NewRequest("GET", "/metrics?hold=1", nil)
				r.RemoteAddr = addr
				h.ServeHTTP(httptest.NewRecorder(), r)
			}()
			testutil.Recv(t, inside, "GET /metrics from "+addr+" with --max-requests 64 not reached: not admitted")
		}
	}
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.RemoteAddr = "203.0.113.1:1000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics with %d scrapes in flight, --max-requests 64: %d %q; want 200",
			(server.MetricsReserve+1)*(server.MetricsReservePerClient+1), rec.Code, strings.TrimSpace(rec.Body.String()))
	}
}
