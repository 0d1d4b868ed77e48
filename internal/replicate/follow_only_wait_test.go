package replicate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
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
		return f.Metrics.WaitingForStream.Load() && logs.count("waiting for stream MMSB_LOG_t (no leader has created it; is the stream's name right?)") > 0
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

// TestFollowOnlyNodeAfterLeadingWaitsForDeletedStream: a node that led,
// restarted follow-only after an operator deleted its bus's stream and
// buckets, still makes nothing on the server and leaves its directory as
// it was while it waits (its bus not opened, nothing set aside, its term
// file unchanged); when a leader makes the bus again, the node sets its
// old state aside (not a prefix of the new history) and follows the new
// leader, state hashes equal. A follow-only node that made the missing
// stream (as NewNode did until 2026-12-06) set the directory aside at
// once and followed an empty bus at LSN 0.
func TestFollowOnlyNodeAfterLeadingWaitsForDeletedStream(t *testing.T) {
	c := startTestCluster(t, 1)
	js, err := jetstream.New(connect(t, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(1)
	parent := t.TempDir()
	dir := filepath.Join(parent, "a")
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", Dir: dir, CheckpointEvery: -1})
	_, bus := waitLeader(t, a)
	if _, err := load(context.Background(), bus, createPages(t, bus, 4), 2, 3, 2); err != nil {
		t.Fatal(err)
	}
	a.stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := errors.Join(js.DeleteStream(ctx, cfg.StreamName()), js.DeleteKeyValue(ctx, cfg.LeaseBucket()),
		js.DeleteObjectStore(ctx, cfg.CheckpointBucket())); err != nil {
		t.Fatal(err)
	}
	term, err := os.ReadFile(filepath.Join(dir, termFile))
	if err != nil {
		t.Fatal(err)
	}

	f := startNode(t, c, NodeConfig{Config: cfg, ID: "a", Dir: dir, FollowOnly: true})
	waitFor(t, "waiting for the stream", f.Metrics.WaitingForStream.Load)
	time.Sleep(2*awaitPoll + 500*time.Millisecond) // two lookups
	if names := jetStreamNames(t, js); len(names) != 0 {
		t.Fatalf("the restarted follow-only node made %v, want nothing", names)
	}
	if b := f.Bus(); b != nil {
		t.Errorf("the waiting node opened its bus (at LSN %d)", b.LastLSN())
	}
	if n := divergedDirs(t, parent); n != 0 || !hasState(dir) {
		t.Errorf("while waiting: %d directories set aside, bus state in %s %v; want 0, true", n, dir, hasState(dir))
	}
	if now, err := os.ReadFile(filepath.Join(dir, termFile)); err != nil || string(now) != string(term) {
		t.Errorf("term file while waiting: %q (%v), want %q as it was", now, err, term)
	}

	l := startNode(t, c, NodeConfig{Config: cfg, ID: "l", Dir: filepath.Join(parent, "l"), CheckpointEvery: -1})
	_, lbus := waitLeader(t, l)
	if _, err := load(context.Background(), lbus, createPages(t, lbus, 4), 2, 3, 2); err != nil {
		t.Fatal(err)
	}
	fb := waitApplied(t, f, lbus.LastLSN())
	if got, want := stateHash(t, fb), stateHash(t, lbus); got != want {
		t.Errorf("follower state hash %x, new leader's %x", got, want)
	}
	if n := divergedDirs(t, parent); n != 1 {
		t.Errorf("%d directories set aside, want 1 (the old history's state, kept)", n)
	}
}

// TestFollowOnlyNodeHoldsItsDirectoryWhileWaiting: a follow-only node
// waiting for its stream holds its directory as its bus will: another
// writer's open of it is mmsb.ErrLocked, and a second node given the same
// directory gets mmsb.ErrLocked from Run at once, as a node whose first
// open finds the lock held does (TestNodeOnALockedDirectoryStops). When
// the waiting node stops, the directory is free. Before, the directory
// was free while the node waited: a second node waited beside it, and
// when the stream appeared both began to bootstrap into the directory.
func TestFollowOnlyNodeHoldsItsDirectoryWhileWaiting(t *testing.T) {
	c := startTestCluster(t, 1)
	dir := t.TempDir()
	a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: dir, FollowOnly: true})
	waitFor(t, "waiting for the stream", a.Metrics.WaitingForStream.Load)
	if b, err := mmsb.Open(dir, nil); !errors.Is(err, mmsb.ErrLocked) {
		if err == nil {
			_ = b.Close()
		}
		t.Fatalf("open of the waiting node's directory = %v, want mmsb.ErrLocked", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "b", Dir: dir, Conn: connect(t, c.URL()), FollowOnly: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(ctx); !errors.Is(err, mmsb.ErrLocked) {
		t.Fatalf("Run of a second node on the directory = %v (context: %v), want mmsb.ErrLocked", err, ctx.Err())
	} else if !strings.Contains(err.Error(), dir) {
		t.Errorf("the refusal does not name the directory %s: %v", dir, err)
	}
	if b.Metrics.WaitingForStream.Load() {
		t.Error("the refused node still says it waits")
	}

	a.stop()
	lk, err := vfs.Default.Lock(filepath.Join(dir, "LOCK"))
	if err != nil {
		t.Fatalf("the directory is still held after the waiting node stopped: %v", err)
	}
	_ = lk.Close()
}
