package replicate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mmsb-go/mmsb"
)

// leadWithStoredCheckpoint starts node a in parent/a, commits and waits
// until a checkpoint is stored; it returns the node and the checkpoint's
// LSN.
func leadWithStoredCheckpoint(t *testing.T, c *Cluster, parent string, logf func(string, ...any)) (*testNode, mmsb.LSN) {
	t.Helper()
	ctx := context.Background()
	a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: filepath.Join(parent, "a"), CheckpointEvery: 1, Logf: logf})
	_, bus := waitLeader(t, a)
	pages := createPages(t, bus, 2)
	if _, err := load(ctx, bus, pages, 1, 3, 2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		lsns, err := a.res.checkpointObjects(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(lsns) > 0 && lsns[len(lsns)-1] == bus.LastLSN() {
			return a, lsns[len(lsns)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint at LSN %d stored within 60 s (stored: %v)", bus.LastLSN(), lsns)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// divergedDirs counts the set-aside directories in parent.
func divergedDirs(t *testing.T, parent string) int {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.Contains(e.Name(), ".diverged-") {
			n++
		}
	}
	return n
}

// TestNodeLeadsFromCheckpointAfterStreamEmptied: after an operator
// empties the stream while a checkpoint is stored, the node leads again
// from that checkpoint's LSN. Its own directory is at that LSN and holds
// the checkpoint's file (it took and stored it): it is the stored state
// and is not set aside (until 2026-12-06 it was, once, and rebuilt from
// the checkpoint). Before that, the rebuilt directory (at the
// checkpoint's LSN) was "ahead of the empty stream" too: every cycle set
// it aside again (one more copy of the checkpoint beside the directory
// every LeaseTTL/4, 16 in 15 s) and no node could ever lead.
func TestNodeLeadsFromCheckpointAfterStreamEmptied(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	if err := a.res.stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	bus := a.Leader()
	a.currentLease().pause()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b := a.Leader(); b != nil && b != bus {
			if got := b.LastLSN(); got != ckpt {
				t.Fatalf("leads again at LSN %d, want the stored checkpoint's %d", got, ckpt)
			}
			if _, err := b.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}}); err != nil {
				t.Fatalf("first commit after the stream was emptied: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node did not lead again within 60 s after the stream was emptied (%d directories set aside)", divergedDirs(t, parent))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := divergedDirs(t, parent); n != 0 {
		t.Fatalf("%d directories set aside, want none (the node's own holds the stored checkpoint)", n)
	}
}

// TestRebuildStreamCannotContinueLeavesNoCopies: a follower rebuilt from
// the stored checkpoint that the stream does not continue (its head is
// past the checkpoint: records after it were purged) fails the cycle with
// ErrNeedBootstrap and tries again on the next, without setting a copy of
// the checkpoint aside each time. Before, every cycle after the first
// moved the rebuilt directory to one more DIR.diverged-<ns>.
func TestRebuildStreamCannotContinueLeavesNoCopies(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	res := a.res
	a.stop()
	if err := res.stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	// The stream now starts past the checkpoint's next record.
	msg := nats.NewMsg(res.cfg.Subject())
	recordHeaders(msg.Header, 9, &mmsb.ReplicatedRecord{FirstLSN: ckpt + 5, LastLSN: ckpt + 5})
	if _, err := res.js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ended []string // the "role ended" lines logged
	logf := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		t.Log(line)
		if strings.Contains(line, "role ended") {
			mu.Lock()
			ended = append(ended, line)
			mu.Unlock()
		}
	}
	b := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", Dir: filepath.Join(parent, "b"), FollowOnly: true, Logf: logf})
	// The cycles are counted by the node (roleEnds): Run logs a repeated
	// error once, not once per cycle, so every cycle that ended without
	// a line of its own ended with the text of the last line logged.
	for deadline := time.Now().Add(60 * time.Second); b.roleEnds.Load() < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d cycles of node b ended within 60 s, want 3", b.roleEnds.Load())
		}
	}
	mu.Lock()
	for i, line := range ended {
		if !strings.Contains(line, ErrNeedBootstrap.Error()) {
			t.Fatalf("role-ended line %d is %q, want %v", i, line, ErrNeedBootstrap)
		}
	}
	if len(ended) == 0 {
		t.Fatal("no cycle's end was logged")
	}
	mu.Unlock()
	if n := divergedDirs(t, parent); n != 0 {
		t.Fatalf("%d directories set aside after 3 rebuilds the stream does not continue, want 0", n)
	}
}
