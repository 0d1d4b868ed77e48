package replicate

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// flakyStream answers "stream not found" to the next notFound lookups
// (Info) of a stream that is there, as a server restarting or a
// JetStream cluster electing a leader may; found counts the lookups
// answered since.
type flakyStream struct {
	jetstream.Stream
	notFound atomic.Int32
	found    atomic.Int32
}

func (s *flakyStream) Info(ctx context.Context, opts ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error) {
	for v := s.notFound.Load(); v > 0; v = s.notFound.Load() {
		if s.notFound.CompareAndSwap(v, v-1) {
			return nil, jetstream.ErrStreamNotFound
		}
	}
	s.found.Add(1)
	return s.Stream.Info(ctx, opts...)
}

// TestLeaderRidesOutSpuriousStreamNotFound: an idle leader's look at its
// stream is answered "stream not found" streamGoneLooks-1 times in a row
// while the stream is there. The role goes on: the same term, no error,
// no change of leader. Before, the first such answer ended the role (and
// the node led again under a new term, its bus closed and reopened). A
// stream really deleted still ends it (TestIdleLeaderNoticesStreamDeleted).
func TestLeaderRidesOutSpuriousStreamNotFound(t *testing.T) {
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.LeaseTTL = MinLeaseTTL // a look at the stream every 500 ms
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	n, err := NewNode(ctx, NodeConfig{Config: cfg, ID: "a", Conn: connect(t, c.URL()), Dir: t.TempDir(), CheckpointEvery: -1, Logf: t.Logf})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	fs := &flakyStream{Stream: n.res.stream}
	n.res.stream = fs // before Run: nothing reads it yet
	a := &testNode{Node: n, t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { a.done <- n.Run(ctx) }()
	t.Cleanup(a.stop)
	waitLeader(t, a)
	term, _ := a.LastLead()
	changes := a.Metrics.LeaderChanges.Load()
	fs.found.Store(0)
	fs.notFound.Store(streamGoneLooks - 1)
	// Two looks that find the stream after the spurious answers.
	waitFor(t, "the stream looked up twice after the spurious answers", func() bool {
		return fs.notFound.Load() == 0 && fs.found.Load() >= 2
	})
	if got, ended := a.LastLead(); got != term || ended != nil || a.Leader() == nil || a.Metrics.LeaderChanges.Load() != changes {
		t.Fatalf("after %d spurious \"stream not found\" answers: leading %v, last term %d (was %d) ended by %v, %d leader changes (was %d); want the role to go on",
			streamGoneLooks-1, a.Leader() != nil, got, term, ended, a.Metrics.LeaderChanges.Load(), changes)
	}
}
