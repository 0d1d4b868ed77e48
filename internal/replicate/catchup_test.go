package replicate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// catchUpStream starts a one-server cluster whose stream holds a few
// records from a leader, and returns the cluster, its resources, the
// leader's bus and the stream's last sequence.
func catchUpStream(t *testing.T) (*Cluster, *resources, *mmsb.Bus, uint64) {
	t.Helper()
	ctx := context.Background()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	t.Cleanup(func() { _ = leader.Close(); pub.close() })
	pages := createPages(t, leader, 4)
	if _, err := load(ctx, leader, pages, 1, 3, 5); err != nil {
		t.Fatal(err)
	}
	info, err := res.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c, res, leader, info.State.LastSeq
}

// TestCatchUpStallsOnMissingTarget: CatchUp to a stream sequence the
// stream does not hold (as a sequence reported during a quorum loss and
// never stored) gives ErrCatchUpStalled instead of waiting for ever, after
// applying what the stream has. The control: CatchUp to the stream's real
// last sequence returns nil.
func TestCatchUpStallsOnMissingTarget(t *testing.T) {
	defer func(d time.Duration) { catchUpStall = d }(catchUpStall)
	// Short, but long enough that a loaded 2-core CI machine under -race
	// delivers the stored records within it (500 ms was thin for that).
	catchUpStall = 2 * time.Second
	ctx := context.Background()
	_, res, leader, last := catchUpStream(t)

	open := func() *mmsb.Bus {
		b, err := mmsb.Open(t.TempDir(), &mmsb.Options{Follower: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	control := open()
	if err := newFollower(control, res, &Metrics{}).CatchUp(ctx, last); err != nil {
		t.Fatalf("catch up to the stream's last sequence %d: %v", last, err)
	}

	fb := open()
	done := make(chan error, 1)
	go func() { done <- newFollower(fb, res, &Metrics{}).CatchUp(ctx, last+3) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrCatchUpStalled) {
			t.Fatalf("catch up to sequence %d of a stream ending at %d: %v, want ErrCatchUpStalled", last+3, last, err)
		}
		t.Logf("%v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("catch up to a sequence the stream does not hold still waiting after 30 s")
	}
	if fb.LastLSN() != leader.LastLSN() {
		t.Fatalf("stalled follower at LSN %d, want everything the stream holds (%d)", fb.LastLSN(), leader.LastLSN())
	}
}

// TestCatchUpEndsWhenConsumerCannotBeRecreated: a catch-up whose consumer
// is lost (here: the server restarts without the stream, so the consumer
// is gone and cannot be made again) returns an error instead of
// retrying for ever: a leader-to-be catches up holding the lease, which it
// renews in the background, so a catch-up that never ends keeps every node
// from leading. The control is the stall test above: with the stream in
// place the same catch-up applies what the stream holds.
func TestCatchUpEndsWhenConsumerCannotBeRecreated(t *testing.T) {
	defer func(d time.Duration) { catchUpStall = d }(catchUpStall)
	catchUpStall = 5 * time.Second
	ctx := context.Background()
	c, res, leader, last := catchUpStream(t)
	fb, err := mmsb.Open(t.TempDir(), &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fb.Close() })
	applied := make(chan mmsb.LSN, 64)
	f := newFollower(fb, res, &Metrics{})
	f.onApplied = func(lsn mmsb.LSN) { applied <- lsn }
	done := make(chan error, 1)
	go func() { done <- f.CatchUp(ctx, last+3) }()
	for lsn := mmsb.LSN(0); lsn < leader.LastLSN(); {
		select {
		case lsn = <-applied:
		case err := <-done:
			t.Fatalf("catch-up ended before the restart: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("catch-up applied nothing in 30 s")
		}
	}
	c.Stop(0)
	c.cfgs[0].StoreDir = t.TempDir() // the restarted server has no stream
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("catch-up to a sequence the stream never held returned nil")
		}
		t.Logf("%v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("catch-up whose consumer cannot be recreated still running after 90 s")
	}
}
