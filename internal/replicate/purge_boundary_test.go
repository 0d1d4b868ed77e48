package replicate

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// streamState returns the stream's first and last sequence, its message
// count and the LSN range of its first record.
func streamState(t *testing.T, res *resources) (first, last, msgs uint64, head recordMeta) {
	t.Helper()
	info, err := res.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := info.State
	if st.Msgs > 0 {
		if head, err = (&Follower{res: res, metrics: &Metrics{}}).getMsg(context.Background(), st.FirstSeq); err != nil {
			t.Fatal(err)
		}
	}
	return st.FirstSeq, st.LastSeq, st.Msgs, head
}

// The purge after an archived checkpoint removes exactly the records the
// checkpoint covers except the one ending at its LSN (kept so that a node
// bootstrapped from it checks its rolling hash there), and nothing after:
// a follower that is behind the purge is rebuilt from the checkpoint and
// catches up from the records that remain, to the leader's state hash.
// The control: a purge one record past that boundary is caught (a node
// bootstrapped from the checkpoint is told ErrNeedBootstrap), not
// continued across the gap.
func TestPurgeKeepsWhatCheckpointFollowersNeed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.CheckpointsKept = 1
	res := testResources(t, c, cfg)
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	pages := createPages(t, leader, 8)
	if _, err := load(ctx, leader, pages, 1, 4, 3); err != nil {
		t.Fatal(err)
	}

	// A follower applies the stream so far, then stops: it falls behind.
	dirB := filepath.Join(t.TempDir(), "b")
	// A replica's directory, as NewNode marks it before it follows.
	if err := saveMarker(dirB, res.cfg.StreamName()); err != nil {
		t.Fatal(err)
	}
	fb, err := mmsb.Open(dirB, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	_, lastB, _, _ := streamState(t, res)
	if err := newFollower(fb, res, &Metrics{}).CatchUp(ctx, lastB); err != nil {
		t.Fatal(err)
	}
	behind := fb.LastLSN()
	if err := fb.Close(); err != nil {
		t.Fatal(err)
	}

	if _, err := load(ctx, leader, pages, 1, 4, 3); err != nil {
		t.Fatal(err)
	}
	ckpt, err := archiveCheckpoint(ctx, res, leader, pub, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Records after the checkpoint: what a node bootstrapped from it
	// still needs from the stream.
	if _, err := load(ctx, leader, pages, 1, 4, 3); err != nil {
		t.Fatal(err)
	}

	first, last, msgs, head := streamState(t, res)
	if first <= 1 {
		t.Fatalf("stream still starts at sequence %d: nothing purged below the checkpoint at LSN %d", first, ckpt)
	}
	if head.Last != ckpt {
		t.Fatalf("stream starts with the record %d..%d, want the one ending at the checkpoint's LSN %d", head.First, head.Last, ckpt)
	}
	if msgs != last-first+1 {
		t.Fatalf("stream holds %d records in sequences %d..%d: the purge removed records after the checkpoint", msgs, first, last)
	}
	if behind >= head.First {
		t.Fatalf("test setup: the follower at LSN %d is not behind the purge (stream starts at LSN %d)", behind, head.First)
	}

	// The follower that is behind cannot continue from the stream ...
	fb, err = mmsb.Open(dirB, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newFollower(fb, res, &Metrics{}).position(ctx); !errors.Is(err, ErrNeedBootstrap) {
		t.Fatalf("follower at LSN %d, stream starting at LSN %d: %v, want ErrNeedBootstrap", behind, head.First, err)
	}
	if err := fb.Close(); err != nil {
		t.Fatal(err)
	}
	// ... so the node rebuilds it from the checkpoint, and it catches up
	// from the records that remain.
	want, wantLSN := stateHash(t, leader), leader.LastLSN()
	n := startNode(t, c, NodeConfig{Config: cfg, ID: "b", Dir: dirB, FollowOnly: true})
	got := waitApplied(t, n, wantLSN)
	if h := stateHash(t, got); h != want {
		t.Fatalf("follower rebuilt from the checkpoint at LSN %d: state hash %#x, leader's %#x", ckpt, h, want)
	}
	if got.Recovery().Checkpoint == "" {
		t.Fatal("the follower behind the purge did not start from the stored checkpoint")
	}
	n.stop()

	// Control: purge one record more than trim does. A node bootstrapped
	// from the checkpoint now misses the record after it, and says so.
	if err := res.stream.Purge(ctx, jetstream.WithPurgeSequence(first+2)); err != nil {
		t.Fatal(err)
	}
	dirC := t.TempDir()
	lsn, err := bootstrap(ctx, res, dirC)
	if err != nil || lsn != ckpt {
		t.Fatalf("bootstrap: checkpoint at LSN %d, %v; want %d", lsn, err, ckpt)
	}
	fc, err := mmsb.Open(dirC, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fc.Close() }()
	if _, err := newFollower(fc, res, &Metrics{}).position(ctx); !errors.Is(err, ErrNeedBootstrap) {
		t.Fatalf("node bootstrapped at LSN %d from a stream purged past it: %v, want ErrNeedBootstrap", ckpt, err)
	}
}
