package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestLoadtestFailedRunPrintsNoResult: a run in which commits failed
// midway (here the server refuses every commit after the first three) is
// not a measurement: loadtest exits 1, names the failure on stderr, and
// prints no result on stdout, in text and in --json alike (a failed
// command writes nothing to stdout: docs/cli.md).
func TestLoadtestFailedRunPrintsNoResult(t *testing.T) {
	var commits atomic.Int64
	hs, _ := startLoadtestServer(t, server.HTTPOptions{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/Commit") && commits.Add(1) > 3 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"code":"internal","message":"injected commit failure"}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"text", nil},
		{"json", []string{"--json"}},
		{"watchers json", []string{"--watchers", "1", "--json"}},
		{"stalled watchers", []string{"--stalled-watchers", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			commits.Store(0)
			args := append([]string{"loadtest", "--server", hs.URL, "--clients", "1", "--duration", "200ms",
				"--batch", "10", "--pages", "4", "--page-size", "64"}, tc.args...)
			r := runCLI(t, args...).mustCode(t, exitFailure)
			if r.stdout != "" {
				t.Errorf("a failed run printed a result:\n%s", r.stdout)
			}
			if !strings.Contains(r.stderr, "injected commit failure") || !strings.Contains(r.stderr, "commits failed") {
				t.Errorf("stderr %q does not report the failed commits and the first error", r.stderr)
			}
		})
	}
}
