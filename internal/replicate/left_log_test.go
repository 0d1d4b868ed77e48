package replicate

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// TestLeftCheckpointsLoggedOncePerNode: the line that names the stored
// checkpoints the trim leaves (another history's) is rate-limited per
// node: a node that leads again within the minute does not log the same
// line again. Before, each role made its own limiter, and every role's
// first trim logged it again.
func TestLeftCheckpointsLoggedOncePerNode(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.LeaseTTL = MinLeaseTTL
	cfg.CheckpointsKept = 1
	logs := &logLines{t: t}
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", CheckpointEvery: 1, Logf: logs.logf})
	_, bus := waitLeader(t, a)
	if _, err := a.res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(1_000_000)}, bytes.NewReader([]byte("another history's"))); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("holds 1 stored checkpoint(s) that the stream %s does not continue (LSN 1000000", a.res.cfg.StreamName())

	// trimmed waits until the leader's trim after its checkpoint at LSN
	// lsn or later purged the stream below it: the trim logged by then.
	trimmed := func(lsn mmsb.LSN) {
		t.Helper()
		waitFor(t, fmt.Sprintf("the stream trimmed to a checkpoint at LSN %d or later", lsn), func() bool {
			stored, err := a.res.checkpointObjects(ctx)
			if err != nil || len(stored) != 2 || stored[0] < lsn {
				return false // the leader's one and the other history's
			}
			info, err := a.res.stream.Info(ctx)
			if err != nil || info.State.Msgs == 0 {
				return false
			}
			head, err := (&Follower{res: a.res, metrics: &Metrics{}}).getMsg(ctx, info.State.FirstSeq)
			return err == nil && head.Last == stored[0]
		})
	}

	pages := createPages(t, bus, 1)
	if _, err := load(ctx, bus, pages, 1, 2, 1); err != nil {
		t.Fatal(err)
	}
	trimmed(bus.LastLSN())
	if n := logs.count(line); n != 1 {
		t.Fatalf("%d lines say %q after the first role's trims, want 1", n, line)
	}

	// Another node takes the lease: the role ends; a leads again.
	if err := a.res.lease.Purge(ctx, leaseKey); err != nil {
		t.Fatal(err)
	}
	thief, err := acquireLease(ctx, a.res.lease, "thief", cfg.LeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stepped down", func() bool { return a.Leader() == nil })
	thief.release(ctx)
	_, bus = waitLeader(t, a)
	if _, err := load(ctx, bus, pages, 1, 1, 1); err != nil {
		t.Fatal(err)
	}
	trimmed(bus.LastLSN())
	if n := logs.count(line); n != 1 {
		t.Fatalf("%d lines say %q after the node led again within the minute, want 1", n, line)
	}
}
