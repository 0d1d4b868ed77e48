package replicate

import (
	"context"
	"testing"
)

// TestFollowerSaysStreamDroppedRecordsNoCheckpointHolds: a follower whose
// stream dropped records that no stored checkpoint holds (an operator
// gave the stream a limit, here MaxMsgs 1, and the leader stores no
// checkpoint) cannot start. It says so: its role ends with
// ErrNeedBootstrap naming the LSNs in neither, the limit that dropped
// them and what it waits for, and its directory holds no bus. Before, it
// built an empty bus (or downloaded the newest checkpoint, every
// LeaseTTL/4), found it behind the stream and said only "the stream
// starts at LSN 5, the local bus is at LSN 0".
func TestFollowerSaysStreamDroppedRecordsNoCheckpointHolds(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	leader := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "leader", CheckpointEvery: -1})
	_, bus := waitLeader(t, leader)
	pages := createPages(t, bus, 2)
	if _, err := load(ctx, bus, pages, 1, 3, 2); err != nil {
		t.Fatal(err)
	}
	sc := leader.res.stream.CachedInfo().Config
	sc.MaxMsgs = 1
	if _, err := leader.res.js.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	last := bus.LastLSN()

	logs := &logLines{t: t}
	dir := t.TempDir()
	f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: dir, FollowOnly: true, Logf: logs.logf})
	waitFor(t, "a role ended", func() bool { return logs.count("role ended") > 0 })
	for _, want := range []string{
		"role ended: replicate: the stream no longer holds the follower's next records: no checkpoint is stored and the stream's first record starts at LSN ",
		" are in neither (the stream MMSB_LOG_t drops records by its limits, MaxMsgs 1 (MMSB sets none)); a follower can start from the stored state only once the leader stores a checkpoint at LSN ",
	} {
		if logs.count(want) == 0 {
			t.Errorf("no log line holds %q", want)
		}
	}
	if f.Bus() != nil || hasState(dir) {
		t.Errorf("the follower that cannot start has a bus (%v) or a directory holding one (%v)", f.Bus() != nil, hasState(dir))
	}
	if got := leader.Leader().LastLSN(); got != last {
		t.Errorf("leader at LSN %d, want %d", got, last)
	}
}
