package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestServeWaitingFollowerAnswersHealthz: 'serve --replicate
// --follow-only' waiting for a leader to make its stream (for as long as
// none runs) answers /healthz "ok", the process serving, while /readyz and
// the rest answer 503 saying it waits. Before, /healthz answered 503 too:
// a liveness probe restarted the waiting node over and over.
//
// /metrics answers 200 with the node's replication metrics, among them
// mmsb_replication_waiting_for_stream 1 and the lag unknown (NaN). It
// answered 503 saying that the node waits: a scrape failed, and no gauge
// said what the status line's waiting_for_stream=1 says.
func TestServeWaitingFollowerAnswersHealthz(t *testing.T) {
	c := startNATS(t, "probetest")
	addr, log, _ := startFollowOnlyServe(t, c, "later")
	const waiting = "waiting for the stream MMSB_LOG_later"
	waitAnswer(t, addr, "/readyz", "503 "+waiting, log, func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, waiting)
	})
	get := func(path string) (int, string) {
		t.Helper()
		code, body, err := getAnswer("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return code, body
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz of the waiting node: %d %q, want 200 \"ok\\n\"", code, body)
	}
	if code, body := get("/api/"); code != http.StatusServiceUnavailable || !strings.Contains(body, waiting) {
		t.Errorf("/api/ of the waiting node: %d %.200q, want 503 saying it waits", code, body)
	}
	code, body := get("/metrics")
	for _, want := range []string{"\nmmsb_replication_waiting_for_stream 1\n", "\nmmsb_replication_lag_lsn NaN\n", "\nmmsb_leader 0\n"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics of the waiting node: %d, want 200 with %q:\n%.2000s", code, want[1:], body)
		}
	}
}
