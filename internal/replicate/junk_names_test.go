package replicate

import (
	"bytes"
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// TestJunkCheckpointNamesDoNotBlockFollowers: objects in the checkpoint
// bucket whose names only look like checkpoints (letters, 21 digits, a
// number past 2^64−1) are not stored checkpoints, and one named for LSN
// 2^64−1 (junk: no bus reaches it) does not make the stream look cut
// off. Before, the stream's check took that LSN + 1, which wrapped to 0,
// found the stream's first record past it, and every new follower was
// told ErrNeedBootstrap ("LSN 0..0 are in neither"): none could start.
func TestJunkCheckpointNamesDoNotBlockFollowers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	pages := createPages(t, leader, 2)
	if _, err := load(ctx, leader, pages, 1, 3, 1); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"checkpoint-0000000000000000000a",
		"checkpoint-000000000000000000001",
		"checkpoint-99999999999999999999",
		"checkpoint-18446744073709551615",
	} {
		if _, err := res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: name}, bytes.NewReader([]byte("junk"))); err != nil {
			t.Fatal(err)
		}
	}
	lsns, err := res.checkpointObjects(ctx)
	if err != nil || !slices.Equal(lsns, []mmsb.LSN{math.MaxUint64}) {
		t.Fatalf("stored checkpoints %v, %v; want only the one at LSN 2^64-1 (the other names are no checkpoint's)", lsns, err)
	}
	// A bootstrap skips the junk one (it does not load) and, the stream
	// holding its records from LSN 1, follows it from there
	// (TestDamagedCheckpointsOverWholeStreamDoNotBlockFollowers).
	if reach, fromStart, err := res.reachesStream(ctx); err != nil || !fromStart {
		t.Fatalf("reachesStream = %v, %v, %v; want no error, and true: the stream holds its history from LSN 1", reach, fromStart, err)
	}
}

// TestDamagedCheckpointsOverWholeStreamDoNotBlockFollowers: every stored
// checkpoint that the stream continues is damaged (here one object of
// junk under a checkpoint's name) while the stream still holds its
// records from LSN 1. A new follower skips them and follows the stream
// from its first record, as an empty bus, to the leader's state. Before,
// the bootstrap ended with ErrNeedBootstrap ("no stored checkpoint that
// the stream continues is whole … the leader must store a new one") at
// every cycle, though it needed no checkpoint: with an idle leader, or
// one that stores none, the follower never started.
func TestDamagedCheckpointsOverWholeStreamDoNotBlockFollowers(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: t.TempDir(), CheckpointEvery: -1})
	_, lb := waitLeader(t, a)
	pages := createPages(t, lb, 2)
	if _, err := load(ctx, lb, pages, 1, 3, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(2)}, bytes.NewReader([]byte("junk"))); err != nil {
		t.Fatal(err)
	}
	f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: t.TempDir(), FollowOnly: true, Logf: t.Logf})
	fb := waitApplied(t, f, lb.LastLSN())
	if fb.LastLSN() != lb.LastLSN() || stateHash(t, fb) != stateHash(t, lb) {
		t.Fatalf("node f at LSN %d, state %x; want the leader's LSN %d, state %x", fb.LastLSN(), stateHash(t, fb), lb.LastLSN(), stateHash(t, lb))
	}
}
