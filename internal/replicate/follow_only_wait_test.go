package replicate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// logLines collects a node's log lines (NodeConfig.Logf) for a test.
type logLines struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.t.Log(line)
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

// count returns the number of lines holding s.
func (l *logLines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// waitFor polls cond every 20 ms until it holds or 30 s have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after 30 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jetStreamNames lists the server's streams: every key/value bucket and
// object store is one too (KV_<bucket>, OBJ_<bucket>).
func jetStreamNames(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var names []string
	streams := js.StreamNames(ctx)
	for name := range streams.Name() {
		names = append(names, name)
	}
	if err := streams.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestFollowOnlyNodeWaitsForStream: a follow-only node on a server where
// no leader made its bus creates nothing (no stream, no bucket, however
// long it runs), says that it waits (a log line naming the stream, then
// none for a minute; Metrics.WaitingForStream), serves no bus meanwhile,
// and follows the leader started later: its records reach the follower,
// state hashes equal. Before, NewNode created the stream and both buckets:
// a mistyped --stream made a new, empty bus that the follower followed at
// LSN 0 for ever, looking healthy.
func TestFollowOnlyNodeWaitsForStream(t *testing.T) {
	c := startTestCluster(t, 1)
	js, err := jetstream.New(connect(t, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", FollowOnly: true, Logf: logs.logf})
	// Long enough for NewNode and two lookups (awaitPoll): a node that
	// made anything has made it by now.
	time.Sleep(2*awaitPoll + 500*time.Millisecond)
	if names := jetStreamNames(t, js); len(names) != 0 {
		t.Fatalf("a follow-only node on an empty server made %v, want nothing", names)
	}
	waitFor(t, "waiting for the stream", func() bool {
		return f.Metrics.WaitingForStream.Load() && logs.count("waiting for stream MMSB_LOG_t (no leader has created it; is --stream/--bus right?)") > 0
	})
	if n := logs.count("waiting for stream"); n != 1 {
		t.Errorf("%d lines say the node waits within %v, want 1 (then one every %v)", n, 2*awaitPoll, awaitLogEvery)
	}
	if !f.Metrics.WaitingForStream.Load() || !f.Metrics.LagUnknown.Load() || f.Bus() != nil {
		t.Errorf("while waiting: WaitingForStream %v, LagUnknown %v, bus %v; want true, true, nil",
			f.Metrics.WaitingForStream.Load(), f.Metrics.LagUnknown.Load(), f.Bus())
	}

	l := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "l", CheckpointEvery: -1})
	_, bus := waitLeader(t, l)
	pages := createPages(t, bus, 4)
	if _, err := load(context.Background(), bus, pages, 2, 5, 3); err != nil {
		t.Fatal(err)
	}
	fb := waitApplied(t, f, bus.LastLSN())
	if got, want := stateHash(t, fb), stateHash(t, bus); got != want {
		t.Errorf("follower state hash %x, leader's %x", got, want)
	}
	if f.Metrics.WaitingForStream.Load() {
		t.Error("WaitingForStream still set while following")
	}
}

// TestFollowOnlyNodeStopsWhileWaiting: a follow-only node waiting for its
// stream returns from Run promptly (nil) when its context ends, and
// leaves nothing made on the server.
func TestFollowOnlyNodeStopsWhileWaiting(t *testing.T) {
	c := startTestCluster(t, 1)
	nc := connect(t, c.URL())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "f", Dir: t.TempDir(), Conn: nc, FollowOnly: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	waitFor(t, "waiting for the stream", n.Metrics.WaitingForStream.Load)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still waiting for the stream 10 s after its context ended")
	}
	if names := jetStreamNames(t, js); len(names) != 0 {
		t.Errorf("the follow-only node made %v, want nothing", names)
	}
}

// TestFollowOnlyNodeRefusesLeaseBucketMadeWhileWaiting: a lease bucket
// that appears, while a follow-only node waits, with a TTL no node could
// lead with (0: made outside MMSB) ends Run with ErrConfig naming the
// bucket, as NewNode refuses one that exists
// (TestFollowOnlyRefusesLeaseBucketTTLOutOfBounds), instead of the node
// taking TTL 0 or waiting for ever.
func TestFollowOnlyNodeRefusesLeaseBucketMadeWhileWaiting(t *testing.T) {
	c := startTestCluster(t, 1)
	nc := connect(t, c.URL())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := testConfig(1)
	n, err := NewNode(ctx, NodeConfig{Config: cfg, ID: "f", Dir: t.TempDir(), Conn: nc, FollowOnly: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	waitFor(t, "waiting for the stream", n.Metrics.WaitingForStream.Load)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: cfg.StreamName(), Subjects: []string{cfg.Subject()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: cfg.LeaseBucket(), History: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: cfg.CheckpointBucket()}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), cfg.LeaseBucket()) {
			t.Errorf("Run = %v, want ErrConfig naming %s", err, cfg.LeaseBucket())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still running 30 s after a lease bucket without TTL appeared")
	}
}
