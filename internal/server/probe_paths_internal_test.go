package server

import (
	"net/http/httptest"
	"testing"
)

// TestProbeOfPaths: the health probes LimitRequests answers from their own
// reserve, each path with its reserve index. /readyz/reads (a replication
// follower's read readiness, 2026-12-07) was counted as any request, so
// a full server refused it where it answered /readyz.
func TestProbeOfPaths(t *testing.T) {
	for _, c := range []struct {
		method, path string
		index        int
		probe        bool
	}{
		{"GET", "/healthz", 0, true},
		{"HEAD", "/healthz", 0, true},
		{"GET", "/readyz", 1, true},
		{"GET", "/readyz/reads", 1, true},
		{"HEAD", "/readyz/reads", 1, true},
		{"POST", "/readyz/reads", 0, false},
		{"GET", "/readyz/other", 0, false},
		{"GET", "/metrics", metricsPath, true},
		{"HEAD", "/metrics", metricsPath, true},
		{"POST", "/metrics", 0, false},
		{"GET", "/metrics/x", 0, false},
	} {
		i, ok := probeOf(httptest.NewRequest(c.method, c.path, nil))
		if ok != c.probe || i != c.index {
			t.Errorf("probeOf(%s %s) = %d, %v; want %d, %v", c.method, c.path, i, ok, c.index, c.probe)
		}
	}
}
