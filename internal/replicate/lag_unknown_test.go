package replicate

import (
	"context"
	"testing"
	"time"
)

// waitLag polls m until its lag is unknown (or known, as unknown says),
// for up to 60 s: a refresh comes every 250 ms, a retry after at most
// 500 ms here, and the machine is loaded.
func waitLag(t *testing.T, m *Metrics, done <-chan error, unknown bool, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for m.Stats().LagUnknown != unknown {
		select {
		case err := <-done:
			t.Fatalf("Run ended waiting until %s: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not %s after 60 s: lag_lsn %d, unknown %v", what, m.LagLSN.Load(), m.LagUnknown.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFollowerLagUnknownWhileStreamUnreadable: when the follower cannot
// read the stream (its server gone), its lag is reported unknown (the
// status line's lag_lsn=unknown, NaN on /metrics), and known again once
// the stream is back. Before, the lag tracker skipped failed reads and the
// last value stayed: a follower whose leader (with its embedded server)
// had exited kept printing "lag_lsn=93000" as if current.
func TestFollowerLagUnknownWhileStreamUnreadable(t *testing.T) {
	c, res, leader, _ := catchUpStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &Metrics{}
	m.LagUnknown.Store(true) // so that the first refresh shows
	_, applied, _, done := runFollower(t, ctx, res, m)
	waitRunApplied(t, applied, done, leader.LastLSN())
	waitLag(t, m, done, false, "lag known while following")

	c.Stop(0)
	waitLag(t, m, done, true, "lag unknown with the server stopped")

	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	waitLag(t, m, done, false, "lag known again after the server's restart")
	if lag := m.LagLSN.Load(); lag != 0 {
		t.Errorf("lag_lsn %d after catching up, want 0", lag)
	}
}

// TestFollowerLagKnownOnEmptyStream: a follower of a stream that holds no
// record yet (no leader has committed) reads the stream and knows its lag,
// 0; it is not "unknown", which made every follower of a bus with no
// commit answer /readyz/reads 503 "lag unknown: the stream cannot be
// read" although it could. Control: "not lag known on an empty stream
// after 60 s: lag_lsn 0, unknown true".
func TestFollowerLagKnownOnEmptyStream(t *testing.T) {
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &Metrics{}
	m.LagUnknown.Store(true) // as a node's metrics start
	_, _, _, done := runFollower(t, ctx, res, m)
	waitLag(t, m, done, false, "lag known on an empty stream")
	if lag := m.LagLSN.Load(); lag != 0 {
		t.Errorf("lag_lsn %d on an empty stream, want 0", lag)
	}
}

// TestFollowerLagUnknownAtOnceWhenConnectionDown: once the follower's
// connection is down (its only server stopped), its lag is unknown at
// the next refresh, however long AckTimeout is (10 min here). Before,
// the refresh's read waited AckTimeout while nats.go reconnected, and
// the last lag was shown as current meanwhile. The spell's own end on a
// connection down (disconnectedLimit, which marks the lag unknown too) is
// put off here (10 min), so that only the refresh can say it. Control:
// "not lag unknown with the connection down after 60 s: lag_lsn 0,
// unknown false".
func TestFollowerLagUnknownAtOnceWhenConnectionDown(t *testing.T) {
	limit := disconnectedLimit
	disconnectedLimit = 10 * time.Minute // read by newFollower (runFollower)
	t.Cleanup(func() { disconnectedLimit = limit })
	c, _, leader, _ := catchUpStream(t)
	cfg := testConfig(1)
	cfg.AckTimeout = 10 * time.Minute
	res := testResources(t, c, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &Metrics{}
	m.LagUnknown.Store(true)
	_, applied, _, done := runFollower(t, ctx, res, m)
	waitRunApplied(t, applied, done, leader.LastLSN())
	waitLag(t, m, done, false, "lag known while following")

	c.Stop(0)
	waitLag(t, m, done, true, "lag unknown with the connection down")
}
