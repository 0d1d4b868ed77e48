package replicate

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// stalledStore is an object store whose uploads hang until their context
// ends (a slow or stalled object store), telling uploading when one
// starts.
type stalledStore struct {
	jetstream.ObjectStore
	uploading chan struct{}
}

func (s *stalledStore) Put(ctx context.Context, _ jetstream.ObjectMeta, _ io.Reader) (*jetstream.ObjectInfo, error) {
	select {
	case s.uploading <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestLeaseLostDuringUploadEndsRole: a leader whose lease another node
// takes while it uploads a checkpoint steps down: Leader() returns nil and
// LastLead says ErrLeaseLost, without waiting for the upload (this store
// reads nothing: its context ends AckTimeout after the loss). The
// upload held the role until it ended (up to 10 × AckTimeout, 50 s here),
// Leader() returning a bus whose commits all failed meanwhile.
func TestLeaseLostDuringUploadEndsRole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	n, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "a", Dir: t.TempDir(), Conn: connect(t, c.URL()), CheckpointEvery: 1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	store := &stalledStore{ObjectStore: n.res.ckpts, uploading: make(chan struct{}, 1)}
	n.res.ckpts = store // before Run: nothing else reads it yet
	tn := &testNode{Node: n, t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { tn.done <- n.Run(ctx) }()
	t.Cleanup(tn.stop)
	_, bus := waitLeader(t, tn)
	if _, err := load(ctx, bus, createPages(t, bus, 1), 1, 1, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-store.uploading:
	case <-time.After(30 * time.Second):
		t.Fatal("the leader did not start uploading a checkpoint within 30 s")
	}
	// Another node takes the lease: the leader's next renewal fails.
	if err := n.res.lease.Purge(ctx, leaseKey); err != nil {
		t.Fatal(err)
	}
	thief, err := acquireLease(ctx, n.res.lease, "thief", n.cfg.LeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	defer thief.release(context.Background())
	waitFor(t, "stepped down", func() bool { return n.Leader() == nil })
	if _, ended := n.LastLead(); !errors.Is(ended, ErrLeaseLost) {
		t.Fatalf("the role ended with %v, want ErrLeaseLost", ended)
	}
}
