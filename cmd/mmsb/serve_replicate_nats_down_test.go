package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/mmsb-go/mmsb/internal/replicate"
)

// TestServeReplicateLeaderReadyzNATSDown: a leader whose NATS server is
// gone answers /readyz 503 naming its connection's state (it answered ok
// until its lease lapsed, taking writes it could not replicate), and
// /healthz ok, and 200 again once the server is back (on its address,
// with its storage). The lease TTL is long (20 s: the role would end some 13 s
// after the last renewal), so that the node still leads while the test
// looks. Control: "GET /readyz never answered 503 naming the NATS
// connection (last: 503 … changing roles …)": nothing said why until the
// role ended at the lease's lapse.
func TestServeReplicateLeaderReadyzNATSDown(t *testing.T) {
	store := t.TempDir()
	s, err := replicate.StartServer(replicate.ServerConfig{StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	port := s.Addr().(*net.TCPAddr).Port
	addr, log, stop := startServe(t, "--replicate", "--nats", s.ClientURL(), "--dir", filepath.Join(t.TempDir(), "a"), "--addr", "127.0.0.1:0", "--lease-ttl", "20s")
	waitAnswer(t, addr, "/readyz", "200 ok", log, func(code int, body string) bool { return code == 200 && body == "ok\n" })

	s.Shutdown()
	s.WaitForShutdown()
	_, body := waitAnswer(t, addr, "/readyz", "503 naming the NATS connection", log, func(code int, body string) bool {
		return code == 503 && strings.Contains(body, "NATS connection is")
	})
	if want := "not ready: the leader's NATS connection is reconnecting; writes cannot be replicated until it is back\n"; body != want {
		t.Fatalf("leader /readyz with NATS gone: %q, want %q", body, want)
	}
	if strings.Contains(body, "127.0.0.1") {
		t.Fatalf("/readyz names the NATS server's address to anyone: %q", body)
	}
	waitAnswer(t, addr, "/healthz", "200 ok", log, func(code int, body string) bool { return code == 200 && body == "ok\n" })

	// The server back on its address, with its storage, well within the
	// lease: the leader renews it and is ready again.
	back, err := replicate.StartServer(replicate.ServerConfig{StoreDir: store, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Shutdown(); back.WaitForShutdown() })
	waitAnswer(t, addr, "/readyz", "200 ok once NATS is back", log, func(code int, body string) bool { return code == 200 && body == "ok\n" })
	stop()
}

// reconnectingConn is a NATS connection that reconnects as it is looked
// at: each look (IsConnected or Status) sees the next of states.
type reconnectingConn struct{ states []nats.Status }

func (c *reconnectingConn) look() nats.Status {
	st := c.states[0]
	if len(c.states) > 1 {
		c.states = c.states[1:]
	}
	return st
}

func (c *reconnectingConn) IsConnected() bool {
	st := c.look()
	return st == nats.CONNECTED || st == nats.DRAINING_SUBS || st == nats.DRAINING_PUBS
}

func (c *reconnectingConn) Status() nats.Status { return c.look() }

// TestLeaderReadinessReadsNATSStatusOnce: the leader's /readyz answers
// from one look at its connection's status. Looked at twice (connected?
// then which status), a reconnect between the looks made it 503 "the
// leader's NATS connection is connected". Control: natsDown of a
// connection seen reconnecting, then connected: "connected".
func TestLeaderReadinessReadsNATSStatusOnce(t *testing.T) {
	for _, tc := range []struct {
		states []nats.Status
		want   string
	}{
		{[]nats.Status{nats.RECONNECTING, nats.CONNECTED}, "reconnecting"},
		{[]nats.Status{nats.CONNECTED, nats.RECONNECTING}, ""},
		{[]nats.Status{nats.DRAINING_PUBS}, ""},
		{[]nats.Status{nats.CLOSED}, "closed"},
	} {
		if got := natsDownStatus(&reconnectingConn{states: tc.states}); got != tc.want {
			t.Errorf("natsDown of a connection seen %v: %q, want %q", tc.states, got, tc.want)
		}
	}
}
