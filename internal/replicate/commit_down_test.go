package replicate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestLeaderCommitRefusedWhileConnectionDown: a commit on a leader whose
// NATS connection is down (its only server stopped) fails at once,
// however long AckTimeout is (10 min here), with ErrReplication wrapping
// ErrStreamUnavailable and ErrServerUnreachable; nothing is logged and
// the bus is not failed, so that once the server is back (its port and
// storage) the next commit on the same bus is acknowledged by the stream
// and lands at the next LSN. The lease is long (2 min) so that the role
// outlives the outage. readyGrace is 0 here, so that the commit need not
// wait for it to pass (TestPublisherReadyRidesOutReconnect covers it). Control: "a commit with the leader's NATS
// connection down did not end: nothing after 1m0s" (it was logged, then
// waited up to 2 × AckTimeout for an acknowledgement, and failed the
// bus).
func TestLeaderCommitRefusedWhileConnectionDown(t *testing.T) {
	grace := readyGrace
	readyGrace = 0 // read by newPublisher, when the node leads
	t.Cleanup(func() { readyGrace = grace })
	ctx := context.Background()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.AckTimeout = 10 * time.Minute
	cfg.LeaseTTL = 2 * time.Minute
	nc := connect(t, c.URL())
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", Conn: nc})
	_, bus := waitLeader(t, a)
	pages := createPages(t, bus, 1)
	before := bus.LastLSN()

	down := nc.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED)
	defer nc.RemoveStatusListener(down)
	c.Stop(0)
	testutil.Recv(t, down, "the connection did not go down after its server stopped")
	done := make(chan error, 1)
	go func() {
		_, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(pages[0], 0, []byte("while down"))})
		done <- err
	}()
	err := testutil.Recv(t, done, "a commit with the leader's NATS connection down did not end")
	if !errors.Is(err, mmsb.ErrReplication) || !errors.Is(err, ErrStreamUnavailable) || !errors.Is(err, ErrServerUnreachable) || errors.Is(err, mmsb.ErrFailed) {
		t.Fatalf("commit with the connection down: %v, want ErrReplication wrapping %v and %v, the bus not failed", err, ErrStreamUnavailable, ErrServerUnreachable)
	}
	t.Log(err)
	if bus.Err() != nil || bus.LastLSN() != before {
		t.Fatalf("after the refused commit: bus error %v, LSN %d (was %d)", bus.Err(), bus.LastLSN(), before)
	}

	up := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(up)
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	if !nc.IsConnected() {
		testutil.Recv(t, up, "the connection did not come back after its server restarted")
	}
	info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(pages[0], 0, []byte("back"))})
	if err != nil {
		t.Fatalf("commit once the server is back: %v", err)
	}
	if info.FirstLSN != before+1 {
		t.Fatalf("commit once back at LSN %d, want %d", info.FirstLSN, before+1)
	}
	if l := a.Leader(); l != bus {
		t.Fatalf("the role changed during the outage (leader bus %p, was %p)", l, bus)
	}
}

// TestPublisherReadyRidesOutReconnect: a leader's connection seen down
// for less than readyGrace takes records (Ready says nil): it may be
// moving to another server of the list, and a commit taken meanwhile is
// published once it has. Refused at once, the commits of a leader whose
// server stopped failed while the two others kept the quorum
// (TestOneServerOfThreeStops: "commits with server 1 of three stopped
// (node b's connection's): mmsb: replication failed: refused before it
// was logged …"). Once the connection has been down longer, Ready
// refuses. The outage's length is set, not waited for. Control: "Ready
// with the connection down for less than 10m0s: … want nil".
func TestPublisherReadyRidesOutReconnect(t *testing.T) {
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	t.Cleanup(pub.close)
	pub.downGrace = 10 * time.Minute
	if err := pub.Ready(); err != nil {
		t.Fatalf("Ready with the connection up: %v", err)
	}
	nc := res.js.Conn()
	down := nc.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED)
	defer nc.RemoveStatusListener(down)
	c.Stop(0)
	testutil.Recv(t, down, "the connection did not go down after its server stopped")
	if err := pub.Ready(); err != nil {
		t.Fatalf("Ready with the connection down for less than %v: %v, want nil", pub.downGrace, err)
	}
	pub.downSince.Store(time.Now().Add(-time.Hour).UnixNano()) // down an hour ago
	if err := pub.Ready(); !errors.Is(err, ErrStreamUnavailable) || !errors.Is(err, ErrServerUnreachable) {
		t.Fatalf("Ready with the connection down for an hour: %v, want %v wrapping %v", err, ErrStreamUnavailable, ErrServerUnreachable)
	}
}
