package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeReplicateBusDropsStreamPrefix: 'serve --replicate-bus
// MMSB_LOG_pfx' names the bus that 'replicate --bus MMSB_LOG_pfx' (and
// 'follow --stream MMSB_LOG_pfx') name, whose stream is MMSB_LOG_pfx: a
// follow-only serve joins the running leader of it and serves its bus.
// Before, serve kept the prefix and looked for the stream
// MMSB_LOG_MMSB_LOG_pfx, which no leader makes: it answered 503 "waiting
// for the stream" for ever beside the leader.
func TestServeReplicateBusDropsStreamPrefix(t *testing.T) {
	c := startNATS(t, "prefixtest")
	leader := startCmd(t, "replicate", "--nats", c.URL(), "--bus", "MMSB_LOG_pfx", "--dir", filepath.Join(t.TempDir(), "leader"), "--status-every", "0")
	defer func() {
		if code := leader.stop(); code != exitOK {
			t.Errorf("replicate exited %d:\n%s", code, leader.stderr.String())
		}
	}()
	waitText(t, &leader.stderr, "leader at LSN")

	// /readyz/reads, not /metrics: a node with no bus answers /metrics
	// too (its replication metrics), and /readyz/reads only once it
	// serves one (a follower's /readyz is 503: it takes no writes).
	addr, log, stop := startFollowOnlyServe(t, c, "MMSB_LOG_pfx")
	defer stop()
	waitAnswer(t, addr, "/readyz/reads", "200 (the leader's bus served)", log, func(code int, _ string) bool {
		return code == http.StatusOK
	})
	if !strings.Contains(log.String(), "bus=pfx") {
		t.Errorf("serve's log does not name the bus pfx:\n%s", log.String())
	}
}
