package replicate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// testResources opens the JetStream resources of cfg on c. A cluster may
// still be placing its first R3 stream ("no suitable peers") or electing
// its meta leader: it retries for a while, as NewNode does.
func testResources(t *testing.T, c *Cluster, cfg Config) *resources {
	t.Helper()
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(connect(t, c.URL()), jetstream.WithPublishAsyncTimeout(cfg.AckTimeout))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.AckTimeout)
		res, err := ensure(ctx, js, cfg, false)
		cancel()
		if err == nil {
			return res
		}
		if errors.Is(err, ErrConfig) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func openLeader(t *testing.T, dir string, pub *Publisher) *mmsb.Bus {
	t.Helper()
	b, err := mmsb.Open(dir, &mmsb.Options{Replicator: pub, Sync: mmsb.SyncReplicated})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// streamTerms returns the term of every message in the stream, in order.
func streamTerms(t *testing.T, res *resources) []uint64 {
	t.Helper()
	info, err := res.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := &Follower{res: res, metrics: &Metrics{}}
	var terms []uint64
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		meta, err := f.getMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		terms = append(terms, meta.Term)
	}
	return terms
}

// A leader that went on publishing after another took over (it was paused
// past its lease, then woke up between its lease check and its publish) is
// refused by the stream's expected-last-sequence fence: its commit fails,
// its bus fails, no follower applies its record, and its directory, now
// ahead of the stream, is set aside and rebuilt when it follows again.
func TestFencingRejectsStaleLeader(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	cfg := res.cfg

	mA := &Metrics{}
	dirA := t.TempDir()
	// A replica's directory, as NewNode marks it before it leads.
	if err := saveMarker(dirA, cfg.StreamName()); err != nil {
		t.Fatal(err)
	}
	pubA := newPublisher(res, 1, 0, 0, nil, mA)
	busA := openLeader(t, dirA, pubA)
	pages := createPages(t, busA, 8)
	if _, err := load(ctx, busA, pages, 1, 3, 10); err != nil {
		t.Fatal(err)
	}

	// B follows to the stream's end, then leads term 2.
	dirB := t.TempDir()
	fb, err := mmsb.Open(dirB, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := res.stream.Info(ctx)
	if err := newFollower(fb, res, &Metrics{}).CatchUp(ctx, info.State.LastSeq); err != nil {
		t.Fatal(err)
	}
	if err := fb.Close(); err != nil {
		t.Fatal(err)
	}
	pubB := newPublisher(res, 2, info.State.LastSeq, fb.LastLSN(), nil, &Metrics{})
	busB := openLeader(t, dirB, pubB)
	defer func() { _ = busB.Close(); pubB.close() }()
	if _, err := load(ctx, busB, pages, 1, 2, 10); err != nil {
		t.Fatalf("new leader: %v", err)
	}

	// The old leader wakes up and commits.
	_, err = busA.Commit(ctx, []mmsb.Delta{mmsb.Write(pages[0], 0, []byte("stale"))})
	if !errors.Is(err, mmsb.ErrReplication) || !errors.Is(err, ErrFenced) {
		t.Fatalf("stale leader's commit: %v, want ErrReplication wrapping ErrFenced", err)
	}
	if !errors.Is(busA.Err(), mmsb.ErrFailed) {
		t.Fatalf("stale leader's bus: %v, want failed", busA.Err())
	}
	if mA.FencedPublishes.Load() != 1 {
		t.Fatalf("fenced publishes %d, want 1", mA.FencedPublishes.Load())
	}
	_ = busA.Close()
	pubA.close()

	terms := streamTerms(t, res)
	for i := 1; i < len(terms); i++ {
		if terms[i] < terms[i-1] {
			t.Fatalf("stream holds term %d after term %d (sequence %d)", terms[i], terms[i-1], i+1)
		}
	}
	if terms[len(terms)-1] != 2 {
		t.Fatalf("last record from term %d, want 2", terms[len(terms)-1])
	}

	// The old leader steps down: as a follower its log is ahead of the
	// stream; the node sets the directory aside and rebuilds it.
	want := stateHash(t, busB)
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "old", Dir: dirA, FollowOnly: true})
	got := waitApplied(t, a, busB.LastLSN())
	if h := stateHash(t, got); h != want {
		t.Fatalf("rebuilt old leader hash %#x, leader's %#x", h, want)
	}
}

// A leader whose lease renewals stop (it stalls) stops committing within
// the TTL and steps down; another node takes the lease, and the old one
// follows it.
func TestLeaseLossStopsLeader(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a"})
	_, busA := waitLeader(t, a)
	pages := createPages(t, busA, 8)
	b := startNode(t, c, NodeConfig{Config: cfg, ID: "b"})
	if _, err := load(ctx, busA, pages, 2, 5, 10); err != nil {
		t.Fatal(err)
	}
	a.currentLease().pause()
	deadline := time.Now().Add(20 * time.Second)
	for a.Leader() != nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if a.Leader() != nil {
		t.Fatal("the leader kept leading without renewing its lease")
	}
	if _, err := busA.Commit(ctx, []mmsb.Delta{mmsb.Write(pages[0], 0, []byte("late"))}); err == nil {
		t.Fatal("a commit on the stepped-down leader's bus was acknowledged")
	}
	leader, busB := waitLeader(t, a, b)
	if leader != b {
		// a may win the next election; either way exactly one leads.
		t.Logf("node %s leads after the lease loss", leader.cfg.ID)
	}
	// What the new leader caught up from the stream counts as stored: a
	// wait for it returns at once (the network server's watch hub does
	// this when it starts on the new leader's bus).
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := busB.WaitDurable(wctx, busB.LastLSN()); err != nil {
		t.Fatalf("WaitDurable of the caught-up LSN on the new leader: %v", err)
	}
	if _, err := load(ctx, busB, pages, 1, 3, 10); err != nil {
		t.Fatal(err)
	}
	other := a
	if leader == a {
		other = b
	}
	got := waitApplied(t, other, busB.LastLSN())
	if stateHash(t, got) != stateHash(t, busB) {
		t.Fatal("follower hash differs from the new leader's")
	}
	if a.Metrics.LeaderChanges.Load() < 2 {
		t.Fatalf("node a leader changes %d, want >= 2", a.Metrics.LeaderChanges.Load())
	}
}
