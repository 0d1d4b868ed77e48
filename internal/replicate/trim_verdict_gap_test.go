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

// TestTrimJudgesAgainCheckpointWhoseRecordWasDeleted: the record ending
// at a stored checkpoint's LSN was deleted inside the stream (nats stream
// rmm), so a trim finds the record after it and cannot count the
// checkpoint (left). Once the stream is purged up to that next record it
// starts right after the checkpoint, which it then continues: with a
// newer checkpoint stored and CheckpointsKept 1, the next trim keeps the
// newer one and deletes the older, as for any checkpoint of the stream's
// history. Before, the first trim's verdict was remembered for the
// stream's life: the older checkpoint was left for ever, named at every
// trim as one the stream does not continue, to be deleted by hand.
func TestTrimJudgesAgainCheckpointWhoseRecordWasDeleted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.CheckpointsKept = 1
	res := testResources(t, c, cfg)
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	pages := createPages(t, leader, 4)
	if _, err := load(ctx, leader, pages, 1, 12, 1); err != nil {
		t.Fatal(err)
	}
	f := &Follower{res: res, metrics: &Metrics{}}
	first, last, _, _ := streamState(t, res)
	// put stores an object at the LSN of the record at seq, with that
	// record's state hash: a checkpoint of the stream's history (the
	// trim reads only its name and metadata).
	put := func(seq uint64) mmsb.LSN {
		meta, err := f.getMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		md := map[string]string{ckptHashKey: fmt.Sprintf("%016x", meta.Hash)}
		if _, err := res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(meta.Last), Metadata: md}, bytes.NewReader([]byte("checkpoint"))); err != nil {
			t.Fatal(err)
		}
		return meta.Last
	}
	k := first + (last-first)/2
	older := put(k)
	if err := res.stream.DeleteMsg(ctx, k); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	if err := trim(ctx, res, logs.logf); err != nil {
		t.Fatal(err)
	}
	// The stream now starts with the record after the deleted one: right
	// after older.
	if err := res.stream.Purge(ctx, jetstream.WithPurgeSequence(k+1)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, head := streamState(t, res); head.First != older+1 {
		t.Fatalf("the stream starts at LSN %d, want %d: not the case under test", head.First, older+1)
	}
	newer := put(last)
	if err := trim(ctx, res, logs.logf); err != nil {
		t.Fatal(err)
	}
	stored, err := res.checkpointObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []mmsb.LSN{newer}; !slices.Equal(stored, want) {
		t.Fatalf("after a trim of a stream that starts right after the checkpoint at LSN %d, with CheckpointsKept 1 and a newer one at LSN %d: stored checkpoints at LSN %v, want %v",
			older, newer, stored, want)
	}
}

// TestTrimVerdictYieldsToStreamStart: a stored checkpoint of the stream's
// history lies behind the stream's first record (an operator purged
// past it), and a trim leaves it. Then the stream is emptied (nats
// stream purge) and a bus at the checkpoint's LSN leads on from it: the
// stream starts right after the checkpoint again, and continues it.
// With CheckpointsKept 1 and a newer checkpoint stored at the new
// record's LSN, the next trim keeps the newer and deletes the older, as
// a trim without remembered verdicts does. Before, the first trim's
// verdict ("behind the stream") was asked first and stood: the older
// checkpoint was left for ever, named at every trim.
func TestTrimVerdictYieldsToStreamStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.CheckpointsKept = 1
	res := testResources(t, c, cfg)
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	pages := createPages(t, leader, 4)
	if _, err := load(ctx, leader, pages, 1, 8, 1); err != nil {
		t.Fatal(err)
	}
	_ = leader.Close()
	pub.close()
	first, last, _, _ := streamState(t, res)
	k := first + (last-first)/2
	// A bus at the record at k: it will lead on from there.
	dir := t.TempDir()
	fb, err := mmsb.Open(dir, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := newFollower(fb, res, &Metrics{}).CatchUp(ctx, k); err != nil {
		t.Fatal(err)
	}
	older := fb.LastLSN()
	hash, _, err := fb.RollingHash()
	if err != nil {
		t.Fatal(err)
	}
	if err := fb.Close(); err != nil {
		t.Fatal(err)
	}
	put := func(lsn mmsb.LSN, hash uint64) {
		md := map[string]string{ckptHashKey: fmt.Sprintf("%016x", hash)}
		if _, err := res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(lsn), Metadata: md}, bytes.NewReader([]byte("checkpoint"))); err != nil {
			t.Fatal(err)
		}
	}
	put(older, hash)
	if err := res.stream.Purge(ctx, jetstream.WithPurgeSequence(k+2)); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	if err := trim(ctx, res, logs.logf); err != nil {
		t.Fatal(err)
	}
	if logs.count(fmt.Sprintf("does not continue (LSN %d:", older)) != 1 {
		t.Fatalf("the trim did not leave the checkpoint at LSN %d behind the stream: not the case under test", older)
	}
	if err := res.stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	_, lastSeq, _, _ := streamState(t, res)
	pub2 := newPublisher(res, 2, lastSeq, older, nil, &Metrics{})
	lb := openLeader(t, dir, pub2)
	defer func() { _ = lb.Close(); pub2.close() }()
	if _, err := lb.Commit(ctx, []mmsb.Delta{mmsb.Write(pages[0], 0, []byte{9})}); err != nil {
		t.Fatal(err)
	}
	_, _, _, head := streamState(t, res)
	if head.First != older+1 {
		t.Fatalf("the stream starts at LSN %d, want %d: not the case under test", head.First, older+1)
	}
	put(head.Last, head.Hash)
	if err := trim(ctx, res, logs.logf); err != nil {
		t.Fatal(err)
	}
	stored, err := res.checkpointObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []mmsb.LSN{head.Last}; !slices.Equal(stored, want) {
		t.Fatalf("after a trim of a stream that starts right after the checkpoint at LSN %d, with CheckpointsKept 1 and a newer one at LSN %d: stored checkpoints at LSN %v, want %v",
			older, head.Last, stored, want)
	}
}
