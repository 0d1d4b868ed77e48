package replicate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// With three servers and R3 streams, losing one server loses nothing:
// replicated commits go on. Losing two loses the quorum: replicated commits
// fail with ErrReplication (nothing is acknowledged falsely), and once the
// servers return every acknowledged commit is in the new leader's state.
func TestQuorumLoss(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 3)
	cfg := testConfig(3)
	cfg.AckTimeout = 2 * time.Second
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a"})
	b := startNode(t, c, NodeConfig{Config: cfg, ID: "b"})
	_, bus := waitLeader(t, a, b)
	pages := createPages(t, bus, 64)
	acked, err := load(ctx, bus, pages, 2, 5, 50)
	if err != nil {
		t.Fatal(err)
	}

	c.Stop(2)
	more, err := load(ctx, bus, pages, 2, 5, 50)
	if err != nil {
		t.Fatalf("commits with one server of three down: %v", err)
	}
	acked = append(acked, more...)

	c.Stop(1)
	var failed error
	for i := 0; i < 50 && failed == nil; i++ {
		info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(pages[0], 0, []byte("no quorum"))})
		if err != nil {
			failed = err
			break
		}
		// Acknowledged before the quorum loss was seen: it must survive.
		acked = append(acked, info)
	}
	if !errors.Is(failed, mmsb.ErrReplication) && !errors.Is(failed, mmsb.ErrClosed) && !errors.Is(failed, mmsb.ErrFailed) {
		t.Fatalf("commit with two servers of three down: %v, want ErrReplication", failed)
	}
	t.Logf("commit without quorum: %v", failed)
	// Negative control of the health wait below: one server of three is
	// not a healthy cluster, which the probe must see once JetStream has
	// noticed the loss.
	unhealthy := c.Healthy()
	for end := time.Now().Add(30 * time.Second); unhealthy == nil && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
		unhealthy = c.Healthy()
	}
	if unhealthy == nil {
		t.Fatal("Healthy: a cluster with two servers of three down stayed healthy for 30s")
	}
	t.Logf("health without quorum: %v", unhealthy)

	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	// Let JetStream elect its meta and stream leaders again before timing
	// the nodes (with -race on a loaded 2-core machine this has once taken
	// over a minute); a cluster that never heals fails here, naming what
	// is unhealthy.
	if err := c.WaitHealthy(3 * time.Minute); err != nil {
		t.Fatal(err)
	}
	var top mmsb.LSN
	for _, in := range acked {
		top = max(top, in.LastLSN)
	}
	// A record the old leader published without quorum may still be
	// stored once the servers return (the stream had its proposal), after
	// a new leader took over: that leader is then fenced ("another leader
	// published") and steps down, which is the safe outcome. Commit on
	// whichever node leads until a commit is acknowledged.
	// Two servers that rejoin under -race on a loaded 2-core CI machine
	// have answered JetStream requests with 503s for tens of seconds
	// after reporting healthy: the waits below are liveness bounds, not
	// timings, and generous.
	var nb *mmsb.Bus
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, nb = waitLeaderWithin(t, 2*time.Minute, a, b)
		for nb.LastLSN() < top && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if nb.LastLSN() < top {
			t.Fatalf("new leader at LSN %d, an acknowledged commit ended at LSN %d", nb.LastLSN(), top)
		}
		_, err := load(ctx, nb, pages, 1, 1, 10)
		if err == nil {
			break
		}
		if !errors.Is(err, mmsb.ErrReplication) && !errors.Is(err, mmsb.ErrFailed) && !errors.Is(err, mmsb.ErrClosed) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no commit acknowledged after the quorum came back: %v", err)
		}
		t.Logf("commit on the new leader: %v (retrying on the next leader)", err)
		time.Sleep(100 * time.Millisecond)
	}
	// Each node's state is the same prefix: compare once the follower has
	// the leader's last commit.
	l2, _ := waitLeader(t, a, b)
	other := a
	if l2 == a {
		other = b
	}
	fb := waitApplied(t, other, nb.LastLSN())
	if stateHash(t, fb) != stateHash(t, nb) {
		t.Fatal("follower and leader differ after the quorum came back")
	}
}
