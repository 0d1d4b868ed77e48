package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestRoleReadiness: a follower's /readyz is 503 (it refuses every
// write), its /readyz/reads 503 while its lag is unknown and else the
// server's; the leader's are the server's.
func TestRoleReadiness(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
	for _, tc := range []struct {
		leader, lagUnknown bool
		path               string
		code               int
		body               string
	}{
		{true, false, "/readyz", 200, "ok"},
		{true, false, "/readyz/reads", 200, "ok"},
		{false, false, "/readyz", 503, "not ready: a read-only follower; writes go to the leader"},
		{false, true, "/readyz", 503, "not ready: a read-only follower; writes go to the leader"},
		{false, false, "/readyz/reads", 200, "ok"},
		{false, true, "/readyz/reads", 503, "lag unknown: the stream cannot be read"},
		{false, true, "/healthz", 200, "ok"},
	} {
		rec := httptest.NewRecorder()
		roleReadiness(inner, tc.leader, func() bool { return tc.lagUnknown }).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if body := strings.TrimSpace(rec.Body.String()); rec.Code != tc.code || body != tc.body {
			t.Errorf("leader %v, lag unknown %v: GET %s answered %d %q, want %d %q", tc.leader, tc.lagUnknown, tc.path, rec.Code, body, tc.code, tc.body)
		}
	}
}

// TestServeReplicateReadyz: the leader and a plain serve answer ok on
// /readyz and /readyz/reads; a follow-only node 503 on /readyz (it said
// ok, refusing every write) and ok on /readyz/reads while it reads the
// stream, 503 once the NATS server (the leader's embedded one) is gone.
func TestServeReplicateReadyz(t *testing.T) {
	plainAddr, plainLog, _ := startServe(t, "--addr", "127.0.0.1:0")
	for _, path := range []string{"/readyz", "/readyz/reads"} {
		waitAnswer(t, plainAddr, path, "200 ok", plainLog, func(code int, body string) bool { return code == 200 && body == "ok\n" })
	}

	root := t.TempDir()
	leaderAddr, leaderLog, stopLeader := startServe(t, "--replicate", "--dir", filepath.Join(root, "a"), "--addr", "127.0.0.1:0", "--lease-ttl", "1s")
	m := regexp.MustCompile(`embedded nats-server" url=(nats://[0-9a-f]+@[0-9.:]+)`).FindStringSubmatch(leaderLog.String())
	if m == nil {
		t.Fatalf("no embedded NATS URL in the log:\n%s", leaderLog.String())
	}
	for _, path := range []string{"/readyz", "/readyz/reads"} {
		waitAnswer(t, leaderAddr, path, "200 ok", leaderLog, func(code int, body string) bool { return code == 200 && body == "ok\n" })
	}
	lc, err := client.New("http://"+leaderAddr, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	ctx := context.Background()
	if _, err := lc.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}

	followerAddr, followerLog, _ := startServe(t, "--replicate", "--follow-only", "--nats", m[1], "--dir", filepath.Join(root, "b"), "--addr", "127.0.0.1:0")
	waitAnswer(t, followerAddr, "/readyz/reads", "200 ok", followerLog, func(code int, body string) bool { return code == 200 && body == "ok\n" })
	if code, body, err := getAnswer("http://" + followerAddr + "/readyz"); err != nil || code != 503 || body != "not ready: a read-only follower; writes go to the leader\n" {
		t.Fatalf("follower /readyz: %d %q %v, want 503 naming the read-only follower", code, body, err)
	}

	stopLeader() // and its embedded NATS server
	waitAnswer(t, followerAddr, "/readyz/reads", "503", followerLog, func(code int, _ string) bool { return code == 503 })
}
