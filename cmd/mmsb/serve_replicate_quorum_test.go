package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/replicate"
)

// TestServeReplicateLeaderReadyzNoQuorum: a leader of an R3 stream whose
// cluster lost two servers of three (its connection moves to the third,
// and stays up) answers /readyz 503 saying that its lease renewals fail,
// which they do when the lease bucket, replicated as the stream is, has
// no quorum: no record could be stored either. The body names no server
// address (/readyz is served without authentication). The lease TTL is
// long (40 s: renewals every 10 s, each waiting up to 10 s, the role
// ending some 27 s after the last renewal stored) so that the node still
// leads while the test looks. Control: "GET /readyz never answered 503
// saying the lease renewals fail (last: 503 <nil> "mmsb: the replication
// node is changing roles; retry\n")": it answered ok until the role
// ended.
func TestServeReplicateLeaderReadyzNoQuorum(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	c, err := replicate.StartCluster("mmsbquorum", dirs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	if err := c.WaitJetStream(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	addr, log, stop := startServe(t, "--replicate", "--nats", c.URL(), "--replicas", "3", "--dir", filepath.Join(t.TempDir(), "a"), "--addr", "127.0.0.1:0", "--lease-ttl", "40s")
	defer stop()
	waitAnswer(t, addr, "/readyz", "200 ok", log, func(code int, body string) bool { return code == 200 && body == "ok\n" })

	c.Stop(1)
	c.Stop(2)
	_, body := waitAnswer(t, addr, "/readyz", "503 saying the lease renewals fail", log, func(code int, body string) bool {
		return code == 503 && strings.Contains(body, "lease renewals have failed")
	})
	if !strings.HasPrefix(body, "not ready: the leader's lease renewals have failed since ") || !strings.Contains(body, "writes cannot be replicated") {
		t.Fatalf("leader /readyz without quorum: %q", body)
	}
	if strings.Contains(body, "127.0.0.1") {
		t.Fatalf("/readyz names a NATS server's address to anyone: %q", body)
	}
}
