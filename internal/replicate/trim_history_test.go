package replicate

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// TestTrimKeepsCheckpointsTheStreamContinues: the bucket holds stored
// checkpoints that the stream does not continue (another history's: one
// past the stream's end, one at a record boundary with another state
// hash, one inside a record) besides the leader's. Trim keeps the
// CheckpointsKept newest of the leader's, deletes its older ones, and
// deletes none of the others (they may be the only copy of another
// history's commits), saying which it left. Before, the others counted
// among the kept ones: the one past the stream's end took the place of
// the leader's newest but one, so a follower had one usable checkpoint,
// not two.
func TestTrimKeepsCheckpointsTheStreamContinues(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.CheckpointsKept = 2
	res := testResources(t, c, cfg)
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	pages := createPages(t, leader, 4)
	if _, err := load(ctx, leader, pages, 1, 6, 1); err != nil {
		t.Fatal(err)
	}
	// The stream's records so far: a boundary of one of them, and an LSN
	// inside a record of several (createPages' one record creates 4).
	f := &Follower{res: res, metrics: &Metrics{}}
	first, _, _, _ := streamState(t, res)
	rec, err := f.getMsg(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Last <= rec.First {
		t.Fatalf("test setup: the first record holds LSN %d..%d, want several", rec.First, rec.Last)
	}
	boundary, err := f.getMsg(ctx, first+2)
	if err != nil {
		t.Fatal(err)
	}
	junk := []byte("not this history's checkpoint")
	foreign := map[mmsb.LSN]map[string]string{
		1_000_000:     nil, // past the stream's end
		boundary.Last: {ckptHashKey: fmt.Sprintf("%016x", boundary.Hash^1)},
		rec.First:     {ckptHashKey: fmt.Sprintf("%016x", rec.Hash)}, // inside a record
	}
	for lsn, meta := range foreign {
		if _, err := res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(lsn), Metadata: meta}, bytes.NewReader(junk)); err != nil {
			t.Fatal(err)
		}
	}

	logs := &logLines{t: t}
	var ours []mmsb.LSN
	for range 3 {
		if _, err := load(ctx, leader, pages, 1, 3, 1); err != nil {
			t.Fatal(err)
		}
		lsn, err := archiveCheckpoint(ctx, res, leader, pub, nil, logs.logf)
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, lsn)
	}
	stored, err := res.checkpointObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []mmsb.LSN{ours[1], ours[2]}
	for lsn := range foreign {
		want = append(want, lsn)
	}
	slices.Sort(want)
	if !slices.Equal(stored, want) {
		t.Fatalf("stored checkpoints at LSN %v after the leader stored %v with CheckpointsKept 2; want %v (the leader's newest two and the three of another history)", stored, ours, want)
	}
	// The stream is trimmed below the oldest of the leader's kept ones.
	_, _, _, head := streamState(t, res)
	if head.Last != ours[1] {
		t.Fatalf("the stream starts with the record %d..%d, want the one ending at LSN %d", head.First, head.Last, ours[1])
	}
	if logs.count(fmt.Sprintf("holds 3 stored checkpoint(s) that the stream %s does not continue", res.cfg.StreamName())) == 0 {
		t.Fatal("no line names the checkpoints left")
	}
}
