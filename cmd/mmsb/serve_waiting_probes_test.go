package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/replicate"
)

// TestServeWaitingFollowerAnswersHealthz: 'serve --replicate
// --follow-only' waiting for a leader to make its stream (for as long as
// none runs) answers /healthz "ok", the process serving, while /readyz and
// the rest answer 503 saying it waits. Before, /healthz answered 503 too:
// a liveness probe restarted the waiting node over and over.
func TestServeWaitingFollowerAnswersHealthz(t *testing.T) {
	c, err := replicate.StartCluster("probetest", []string{t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	addr, log, stop := startServe(t, "--replicate", "--follow-only", "--nats", c.URL(), "--replicate-bus", "later",
		"--dir", filepath.Join(t.TempDir(), "f"), "--addr", "127.0.0.1:0")
	defer stop()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const waiting = "waiting for the stream MMSB_LOG_later"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body := get("/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, waiting) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never said the node waits (last: %d %.200q)\n%s", code, body, log.String())
		}
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz of the waiting node: %d %q, want 200 \"ok\\n\"", code, body)
	}
	if code, body := get("/metrics"); code != http.StatusServiceUnavailable || !strings.Contains(body, waiting) {
		t.Errorf("/metrics of the waiting node: %d %.200q, want 503 saying it waits", code, body)
	}
}
