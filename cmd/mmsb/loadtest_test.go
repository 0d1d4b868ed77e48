package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

func TestLoadtest(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	defer hs.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()
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
