package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// startLoadtestServer serves a fresh in-memory bus over HTTP for the
// loadtest tests, with opts, until the test ends. wrap, when set, wraps
// the server's handler (to inject failures).
func startLoadtestServer(t *testing.T, opts server.HTTPOptions, wrap func(http.Handler) http.Handler) (*httptest.Server, *mmsb.Bus) {
	t.Helper()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv.Mux(opts)
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	// Cleanups run last-in first-out: the server shuts down, then the
	// listener closes, then the bus.
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return hs, bus
}

func TestLoadtest(t *testing.T) {
	hs, bus := startLoadtestServer(t, server.HTTPOptions{}, nil)
	r := runCLI(t, "loadtest", "--server", hs.URL, "--clients", "2", "--duration", "300ms", "--batch", "10", "--pages", "16", "--json").mustCode(t, exitOK)
	var res loadtestResult
	r.decodeJSON(t, &res)
	if res.Commits == 0 || res.Errors != 0 || res.Deltas != res.Commits*10 || res.LatencyMaxMs < res.LatencyP50Ms {
		t.Fatalf("%+v", res)
	}
	// Every acknowledged delta is in the bus: 16 creations, then the deltas.
	if got := bus.LastLSN(); got != mmsb.LSN(16+res.Deltas) {
		t.Fatalf("bus LSN %d, want %d", got, 16+res.Deltas)
	}
	r = runCLI(t, "loadtest", "--server", "http://10.1.2.3:7070").mustCode(t, exitUsage)
	if !strings.Contains(r.stderr, "not on loopback") {
		t.Fatalf("stderr: %s", r.stderr)
	}
}

// TestLoadtestWatchers: --watchers delivers every commit to every watcher
// (one latency sample per commit and watcher); --stalled-watchers runs
// four phases, the stalled watches open during the second and fourth.
func TestLoadtestWatchers(t *testing.T) {
	hs, _ := startLoadtestServer(t, server.HTTPOptions{}, nil)
	r := runCLI(t, "loadtest", "--server", hs.URL, "--clients", "2", "--duration", "300ms", "--batch", "10", "--pages", "16",
		"--watchers", "3", "--json").mustCode(t, exitOK)
	var res loadtestResult
	r.decodeJSON(t, &res)
	if res.Commits == 0 || res.Errors != 0 || res.Watchers != 3 || res.Watch == nil {
		t.Fatalf("%+v", res)
	}
	if w := res.Watch; w.Samples != 3*res.Commits || w.AckMaxMs < w.AckP50Ms || w.BeforeAck < 0 || w.BeforeAck > 1 {
		t.Fatalf("watch latencies %+v for %d commits and 3 watchers", *w, res.Commits)
	}
	r = runCLI(t, "loadtest", "--server", hs.URL, "--clients", "1", "--duration", "400ms", "--batch", "10", "--pages", "16",
		"--stalled-watchers", "2", "--json").mustCode(t, exitOK)
	res = loadtestResult{}
	r.decodeJSON(t, &res)
	if len(res.Phases) != 4 || res.Errors != 0 {
		t.Fatalf("%+v", res)
	}
	for i, p := range res.Phases {
		if want := 2 * (i % 2); p.Stalled != want || (want > 0 && p.WatchersAtEnd < uint64(want)) || p.DeltasPerS <= 0 {
			t.Fatalf("phase %d: %+v", i, p)
		}
	}
	runCLI(t, "loadtest", "--server", hs.URL, "--watchers", "1", "--stalled-watchers", "1").mustCode(t, exitUsage)
}
