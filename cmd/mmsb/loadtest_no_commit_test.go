package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestLoadtestNoCommitFailsWithAndWithoutJSON: a load test in which no
// commit succeeded failed (exit 1, "no commit succeeded"), whether it
// prints text or --json: the exit status must not depend on the output
// format. The server here takes the page creations but refuses every
// batch as larger than its request limit.
func TestLoadtestNoCommitFailsWithAndWithoutJSON(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{MaxRequestBytes: 1024}))
	defer hs.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()
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
			if strings.Contains(tc.name, "json") {
				var res loadtestResult
				r.decodeJSON(t, &res)
				if res.Commits != 0 || res.Errors == 0 {
					t.Fatalf("the server should have refused every commit: %+v", res)
				}
			}
		})
	}
}
