package main

import (
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestLoadtestNoCommitFailsWithAndWithoutJSON: a load test in which no
// commit succeeded failed (exit 1, "no commit succeeded", no result on
// stdout), whether it prints text or --json: the exit status must not
// depend on the output format. The server here takes the page creations but refuses every
// batch as larger than its request limit.
func TestLoadtestNoCommitFailsWithAndWithoutJSON(t *testing.T) {
	hs, _ := startLoadtestServer(t, server.HTTPOptions{MaxRequestBytes: 1024}, nil)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"text", nil},
		{"json", []string{"--json"}},
		{"stalled watchers json", []string{"--stalled-watchers", "1", "--json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"loadtest", "--server", hs.URL, "--clients", "1", "--duration", "200ms",
				"--batch", "1000", "--pages", "4", "--page-size", "64"}, tc.args...)
			r := runCLI(t, args...).mustCode(t, exitFailure)
			if !strings.Contains(r.stderr, "no commit succeeded") {
				t.Errorf("stderr %q does not say that no commit succeeded", r.stderr)
			}
			// A failed run is no measurement: nothing on stdout, JSON
			// included (it printed the zero figures as a result).
			if r.stdout != "" {
				t.Errorf("a failed run printed a result:\n%s", r.stdout)
			}
		})
	}
}
