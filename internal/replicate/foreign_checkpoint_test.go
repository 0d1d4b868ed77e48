package replicate

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestBootstrapSkipsCheckpointOfAnotherHistory: an operator deleted the
// stream and the checkpoint bucket for a fresh start, a leader began a new
// history at LSN 1, and a checkpoint of the old history was stored in the
// new bucket afterwards (an old leader's late upload, or a restored
// bucket). The new stream starts at LSN 1, so the old checkpoint passes
// reachesStream's check, but the stream does not continue it: its records
// end before the checkpoint's LSN, or their state hash there is another.
// A new follower skips it, saying why, and follows the stream from its
// first record to the leader's state. Before, the follower bootstrapped
// from it, was "not a prefix" of the stream, emptied the directory and
// bootstrapped from the same checkpoint at every cycle, for ever.
func TestBootstrapSkipsCheckpointOfAnotherHistory(t *testing.T) {
	for _, tc := range []struct {
		name string
		past bool // the new history goes past the old checkpoint's LSN
		want string
	}{
		{"past the stream's end", false, "the stream ends at LSN"},
		{"same LSN, other state", true, "the local rolling hash is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := startTestCluster(t, 1)
			parent := t.TempDir()
			a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
			old, err := a.res.ckpts.GetBytes(ctx, ckptObjectName(ckpt))
			if err != nil {
				t.Fatal(err)
			}
			a.stop()
			if err := a.res.js.DeleteStream(ctx, a.res.cfg.StreamName()); err != nil {
				t.Fatal(err)
			}
			if err := a.res.js.DeleteObjectStore(ctx, a.res.cfg.CheckpointBucket()); err != nil {
				t.Fatal(err)
			}
			a2 := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a2", Dir: filepath.Join(parent, "a2"), CheckpointEvery: -1})
			_, lb := waitLeader(t, a2)
			pages := createPages(t, lb, 1)
			if tc.past {
				// One LSN per commit: a record ends at every LSN.
				if _, err := load(ctx, lb, pages, 1, int(ckpt-lb.LastLSN())+2, 1); err != nil {
					t.Fatal(err)
				}
			}
			if past := lb.LastLSN() > ckpt; past != tc.past {
				t.Fatalf("the new history is at LSN %d, the old checkpoint at %d: not the case under test", lb.LastLSN(), ckpt)
			}
			if _, err := a2.res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(ckpt)}, bytes.NewReader(old)); err != nil {
				t.Fatal(err)
			}
			logs := &logLines{t: t}
			f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: filepath.Join(parent, "f"), FollowOnly: true, Logf: logs.logf})
			fb := waitApplied(t, f, lb.LastLSN())
			if fb.LastLSN() != lb.LastLSN() || stateHash(t, fb) != stateHash(t, lb) {
				t.Fatalf("node f at LSN %d, state %x; want the leader's LSN %d, state %x", fb.LastLSN(), stateHash(t, fb), lb.LastLSN(), stateHash(t, lb))
			}
			want := fmt.Sprintf("bootstrap: skipped replicate: the stream does not continue the stored checkpoint at LSN %d (object %s in MMSB_CKPT_t): it belongs to another history", ckpt, ckptObjectName(ckpt))
			if logs.count(want) == 0 || logs.count(tc.want) == 0 {
				t.Fatalf("no line says %q and %q", want, tc.want)
			}
			if divergedDirs(t, parent) != 0 {
				t.Fatal("a directory was set aside")
			}
		})
	}
}

// TestNewNodeSaysStreamMadeBesideOldCheckpoints: a leader-capable node
// that makes the stream (it did not exist: an operator deleted it) beside
// a checkpoint bucket holding checkpoints says that the new stream
// continues the newest of them, and how to start a fresh history instead.
// Before, nothing said it: an operator who deleted only the stream for a
// fresh start found the old state led again. A node that makes both, the
// first time, says nothing.
func TestNewNodeSaysStreamMadeBesideOldCheckpoints(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	logs := &logLines{t: t}
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, logs.logf)
	const made = "made stream MMSB_LOG_t, which did not exist, beside checkpoint bucket MMSB_CKPT_t"
	if logs.count(made) != 0 {
		t.Fatal("the first node, which made the bucket too, said the bucket held checkpoints from before")
	}
	a.stop()
	if err := a.res.js.DeleteStream(ctx, a.res.cfg.StreamName()); err != nil {
		t.Fatal(err)
	}
	a2 := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a2", Dir: filepath.Join(parent, "a2"), CheckpointEvery: -1, Logf: logs.logf})
	want := fmt.Sprintf("checkpoint(s) from before it, the newest at LSN %d: the new stream continues from that one", ckpt)
	if logs.count(made) != 1 || logs.count(want) != 1 || logs.count("delete the bucket with the stream") != 1 {
		t.Fatalf("no line says %q", want)
	}
	// And it does: the new leader starts at the stored checkpoint.
	if _, lb := waitLeader(t, a2); lb.LastLSN() != ckpt {
		t.Fatalf("node a2 leads the new stream at LSN %d, want the stored checkpoint's %d", lb.LastLSN(), ckpt)
	}
}
