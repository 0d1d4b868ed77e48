package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestProbeReservePerClientWithoutClientBound: without a per-client bound
// of requests (--max-requests-per-client 0, behind a proxy) one address
// still holds at most ProbeReservePerClient probes of a path: the next
// from it is refused naming the reserve's per-client bound, and another
// address is answered. Until 2026-12-07 one client could then take the
// whole reserve (ProbeReserve) and every other prober was refused.
func TestProbeReservePerClientWithoutClientBound(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, server.ProbeReservePerClient+1)
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hold") != "" {
			inside <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "ok\n")
	}), 0, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	defer func() { close(release); wg.Wait() }()
	probe := func(target, addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range server.ProbeReservePerClient {
		wg.Add(1)
		go func() { defer wg.Done(); probe("/healthz?hold=1", "192.0.2.3:1000") }()
		select {
		case <-inside:
		case <-time.After(30 * time.Second): // a failure bound, not a timing assertion
			t.Fatalf("probe %d from 192.0.2.3 was not admitted", i+1)
		}
	}
	w := probe("/healthz", "192.0.2.3:1001")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get(server.BusyKey) != "probe reserve per client" {
		t.Fatalf("probe %d from one address with no per-client request bound: %d, Mmsb-Busy %q, %q; want 503 naming the probe reserve per client",
			server.ProbeReservePerClient+1, w.Code, w.Header().Get(server.BusyKey), w.Body.String())
	}
	if w := probe("/healthz", "192.0.2.4:1000"); w.Code != http.StatusOK {
		t.Fatalf("a probe from another address: %d %q; want 200", w.Code, w.Body.String())
	}
}
