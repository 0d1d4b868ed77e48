package replicate

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// countingStream counts the reads of single messages (GetMsg) of a
// stream.
type countingStream struct {
	jetstream.Stream
	reads atomic.Int64
}

func (s *countingStream) GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	s.reads.Add(1)
	return s.Stream.GetMsg(ctx, seq, opts...)
}

// TestTrimJudgesForeignCheckpointsOnce: the bucket holds 60 stored
// checkpoints of another history at LSNs of records inside the stream
// (state hashes that are not the stream's) beside the leader's. The first trim judges
// each; the next trims of the same stream read no message for them
// (their verdict cannot change while the stream lasts), only for the
// leader's: fewer reads than there are foreign checkpoints. The verdicts
// are the same as the first trim's: none of them counted or deleted.
// Before, every trim searched the stream for every one of them (about
// 60 × 6 reads at each archive).
func TestTrimJudgesForeignCheckpointsOnce(t *testing.T) {
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
	ours, err := archiveCheckpoint(ctx, res, leader, pub, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The stream now starts with the record ending at ours; the foreign
	// checkpoints lie at the LSNs of the records after it.
	if _, err := load(ctx, leader, pages, 1, 70, 1); err != nil {
		t.Fatal(err)
	}
	junk := []byte("not this history's checkpoint")
	const foreign = 60
	for lsn := ours + 1; lsn <= ours+foreign; lsn++ {
		meta := map[string]string{ckptHashKey: fmt.Sprintf("%016x", uint64(lsn)*0x9e3779b97f4a7c15)}
		if _, err := res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(lsn), Metadata: meta}, bytes.NewReader(junk)); err != nil {
			t.Fatal(err)
		}
	}
	counting := &countingStream{Stream: res.stream}
	res.stream = counting
	logs := &logLines{t: t}
	var reads []int64
	for range 3 {
		counting.reads.Store(0)
		if err := trim(ctx, res, logs.logf); err != nil {
			t.Fatal(err)
		}
		reads = append(reads, counting.reads.Load())
	}
	stored, err := res.checkpointObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != foreign+1 || !slices.Contains(stored, ours) {
		t.Fatalf("stored checkpoints at LSN %v, want the leader's at %d and the %d of another history", stored, ours, foreign)
	}
	if logs.count(fmt.Sprintf("holds %d stored checkpoint(s) that the stream %s does not continue", foreign, res.cfg.StreamName())) != 3 {
		t.Fatalf("not every trim named the %d checkpoints it left", foreign)
	}
	if reads[1] >= foreign || reads[2] >= foreign {
		t.Fatalf("trims of the same stream read %v messages, the later ones %d or more: each searched again for the %d checkpoints of another history judged at the first", reads, foreign, foreign)
	}
	t.Logf("messages read by three trims of the same stream: %v", reads)
}

// TestTrimPassesOverDeletedMessages: an operator deleted messages inside
// the stream (nats stream rmm) between the record ending at the leader's
// older kept checkpoint and its newest. The archive's trim passes over
// them (a missing message is gone: nothing to keep), keeps both
// checkpoints, purges below the older one, and says once which sequences
// it found missing: a second trim meeting them again does not repeat the
// line. Before, the read of a deleted message failed the trim at every
// archive ("read stream sequence N: … message not found"), each failure
// ending the leader's role.
func TestTrimPassesOverDeletedMessages(t *testing.T) {
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
	if _, err := load(ctx, leader, pages, 1, 4, 1); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	older, err := archiveCheckpoint(ctx, res, leader, pub, nil, logs.logf)
	if err != nil {
		t.Fatal(err)
	}
	_, olderSeq, _, _ := streamState(t, res) // the record ending at older is the last
	if _, err := load(ctx, leader, pages, 1, 20, 1); err != nil {
		t.Fatal(err)
	}
	_, last, _, _ := streamState(t, res)
	var deleted []uint64
	for seq := olderSeq + 1; seq < last; seq++ {
		if err := res.stream.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
		deleted = append(deleted, seq)
	}
	newer, err := archiveCheckpoint(ctx, res, leader, pub, nil, logs.logf)
	if err != nil {
		t.Fatalf("archive after messages %d..%d were deleted inside the stream: %v", deleted[0], deleted[len(deleted)-1], err)
	}
	if err := trim(ctx, res, logs.logf); err != nil {
		t.Fatalf("a second trim: %v", err)
	}
	stored, err := res.checkpointObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []mmsb.LSN{older, newer}; !slices.Equal(stored, want) {
		t.Fatalf("stored checkpoints at LSN %v, want %v", stored, want)
	}
	if first, _, _, head := streamState(t, res); first != olderSeq || head.Last != older {
		t.Fatalf("the stream starts at sequence %d with the record ending at LSN %d, want sequence %d ending at LSN %d", first, head.Last, olderSeq, older)
	}
	if n := logs.count("lacks the message(s) at sequence"); n != 1 {
		t.Fatalf("%d lines say the stream lacks messages, want 1 (two trims met them)", n)
	}
}

// TestFollowerPositionsPastDeletedMessages: a follower applied the whole
// stream; an operator then deleted messages inside the stream, before
// the follower's position (nats stream rmm). At its restart its position
// check finds its record past them and the follower goes on. Before, the
// check's search read a deleted message, failed ("message not found") at
// each of its tries, and every restart ended there, for ever.
func TestFollowerPositionsPastDeletedMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	pages := createPages(t, leader, 4)
	if _, err := load(ctx, leader, pages, 1, 30, 1); err != nil {
		t.Fatal(err)
	}
	first, last, _, _ := streamState(t, res)
	dir := t.TempDir()
	fb, err := mmsb.Open(dir, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := newFollower(fb, res, &Metrics{}).CatchUp(ctx, last); err != nil {
		t.Fatal(err)
	}
	if err := fb.Close(); err != nil {
		t.Fatal(err)
	}
	for seq := first + 1; seq < last; seq++ {
		if err := res.stream.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	fb, err = mmsb.Open(dir, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fb.Close() }()
	seq, err := newFollower(fb, res, &Metrics{}).position(ctx)
	if err != nil || seq != last {
		t.Fatalf("position of a follower at the stream's last record (sequence %d), messages %d..%d deleted before it: sequence %d, %v", last, first+1, last-1, seq, err)
	}
}
