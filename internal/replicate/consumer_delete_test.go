package replicate

import (
	"context"
	"testing"
	"time"
)

// consumerNames lists the stream's consumers.
func consumerNames(t *testing.T, tn *testNode) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lister := tn.res.stream.ConsumerNames(ctx)
	var names []string
	for name := range lister.Name() {
		names = append(names, name)
	}
	if err := lister.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestStoppedFollowerLeavesNoConsumer: the pull consumer of each spell of
// following (a follower's, a leader-to-be's catch-up) is deleted when the
// spell ends, so that a follower stopped cleanly leaves none on the
// stream. Before, each was left for the server to drop after
// consumerInactive (5 minutes) without a reader.
func TestStoppedFollowerLeavesNoConsumer(t *testing.T) {
	c := startTestCluster(t, 1)
	a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", CheckpointEvery: -1})
	_, bus := waitLeader(t, a)
	createPages(t, bus, 2)
	b := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", FollowOnly: true})
	waitApplied(t, b, bus.LastLSN())
	if names := consumerNames(t, a); len(names) != 1 {
		t.Errorf("while one node follows: consumers %v, want its one", names)
	}
	b.stop()
	// The delete is done when Run returns; the listing may lag it.
	deadline := time.Now().Add(10 * time.Second)
	names := consumerNames(t, a)
	for len(names) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		names = consumerNames(t, a)
	}
	if len(names) > 0 {
		t.Errorf("after the follower stopped and the leader caught up: consumers %v, want none", names)
	}
}
