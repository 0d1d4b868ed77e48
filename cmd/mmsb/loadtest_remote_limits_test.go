package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestLoadtestRemotePerClientLimits: a load test against a server on
// another host that needs more connections than mmsb serve allows one
// client by default (--max-conns-per-client 64: here 70 clients, 71
// connections with the setup's) warns before it starts, naming the
// server's flags and the values the run needs; a run that then fails
// (here the server closes the connections of commits unanswered, as
// --max-conns-per-client does) names them in its failure too; a run that
// fits warns of nothing. Loopback clients are not bounded per client, so
// the test takes its loopback server for another host. Until 2026-12-06
// such a run failed with "connection reset" errors that named no bound
// and looked like a server defect.
func TestLoadtestRemotePerClientLimits(t *testing.T) {
	local := loadtestLocalHost
	loadtestLocalHost = func(string) bool { return false }
	t.Cleanup(func() { loadtestLocalHost = local })

	var refuse atomic.Bool
	hs, _ := startLoadtestServer(t, server.HTTPOptions{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refuse.Load() && strings.HasSuffix(r.URL.Path, "/Commit") {
				if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
					_ = c.Close() // closed unanswered, as a refused connection
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	args := func(clients string) []string {
		return []string{"loadtest", "--server", hs.URL, "--allow-remote", "--clients", clients, "--duration", "200ms",
			"--batch", "1", "--pages", "4", "--page-size", "64"}
	}
	const want = "this run opens 71 connections with up to 70 requests in flight, all from one address"
	r := runCLI(t, args("70")...).mustCode(t, exitOK)
	if !strings.Contains(r.stderr, "warning: "+want) || !strings.Contains(r.stderr, "--max-conns-per-client (default 64") {
		t.Errorf("70 clients against a server on another host: stderr %q; want a warning naming 71 connections and --max-conns-per-client 64", r.stderr)
	}
	if r := runCLI(t, args("2")...).mustCode(t, exitOK); strings.Contains(r.stderr, "warning") {
		t.Errorf("2 clients against a server on another host: stderr %q; want no warning", r.stderr)
	}
	refuse.Store(true)
	r = runCLI(t, args("70")...).mustCode(t, exitFailure)
	if !strings.Contains(r.stderr, "commits failed") || !strings.Contains(r.stderr, "note: "+want) {
		t.Errorf("a failed run of 70 clients against a server on another host: stderr %q; want the failure, then a note naming the per-client bounds", r.stderr)
	}
}
