package replicate

import (
	"context"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// waitCheckpoints waits until the object store holds want checkpoints and
// returns their LSNs.
func waitCheckpoints(t *testing.T, n *testNode, want int) []mmsb.LSN {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lsns, err := n.res.checkpointObjects(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(lsns) >= want {
			return lsns
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d checkpoints stored, want %d", len(lsns), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// commitOne commits one record (one delta) and waits until the node's
// publisher has counted it.
func commitOne(t *testing.T, n *testNode, bus *mmsb.Bus, page mmsb.PageID, i int) {
	t.Helper()
	before := n.Metrics.RecordsPublished.Load()
	if _, err := bus.Commit(context.Background(), []mmsb.Delta{mmsb.Write(page, 0, []byte{byte(i)})}); err != nil {
		t.Fatal(err)
	}
	// SyncReplicated acknowledges once stored; the counter follows.
	for deadline := time.Now().Add(10 * time.Second); n.Metrics.RecordsPublished.Load() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a stored record was not counted as published")
		}
	}
}

// The published-records counter spans the node's life, but each term must
// count CheckpointEvery records of its own before it archives: a node that
// leads a second time must not archive a checkpoint at once for records
// its first term published (and archived).
func TestReelectedLeaderWaitsCheckpointEvery(t *testing.T) {
	const every = 10
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.CheckpointsKept = 10 // count every archive
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", CheckpointEvery: every})
	_, bus := waitLeader(t, a)
	pages := createPages(t, bus, 1)
	for i := range every {
		commitOne(t, a, bus, pages[0], i)
	}
	waitCheckpoints(t, a, 1)

	// Lose the lease; the node, alone, takes it again and leads term 2.
	a.currentLease().pause()
	deadline := time.Now().Add(60 * time.Second)
	var bus2 *mmsb.Bus
	for bus2 == nil || bus2 == bus {
		if time.Now().After(deadline) {
			t.Fatal("the node did not lead again")
		}
		time.Sleep(20 * time.Millisecond)
		bus2 = a.Leader()
	}

	// Fewer than CheckpointEvery records in the new term: no archive,
	// over several of the leader's checks (every LeaseTTL/8).
	for i := range every - 1 {
		commitOne(t, a, bus2, pages[0], i)
	}
	for end := time.Now().Add(cfg.LeaseTTL); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		lsns, err := a.res.checkpointObjects(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(lsns) != 1 {
			t.Fatalf("re-elected leader archived checkpoints at LSNs %v after %d records of its new term, want none before %d", lsns[1:], every-1, every)
		}
	}
	// The CheckpointEvery-th record of the term archives one.
	commitOne(t, a, bus2, pages[0], every)
	lsns := waitCheckpoints(t, a, 2)
	if len(lsns) != 2 || lsns[1] < bus2.LastLSN() {
		t.Fatalf("checkpoints at LSNs %v, want a second one at LSN %d", lsns, bus2.LastLSN())
	}
}
