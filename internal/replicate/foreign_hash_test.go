package replicate

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// TestBootstrapSkipsForeignCheckpointByHashUndownloaded: a checkpoint of
// another history, stored with its state hash in its metadata (as every
// upload now names it), sits in the bucket at an LSN where the stream
// holds a record of its own history with another state hash. A new
// follower compares the two before downloading: it skips the checkpoint
// without downloading it, says so with both hashes, and follows the
// stream from its first record. Before, it downloaded the whole
// checkpoint, bootstrapped from it and only the position check found it
// foreign (at every start of a follower).
func TestBootstrapSkipsForeignCheckpointByHashUndownloaded(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	name := ckptObjectName(ckpt)
	old, err := a.res.ckpts.GetBytes(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := a.res.ckpts.GetInfo(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Metadata[ckptHashKey]) != 16 {
		t.Fatalf("the leader's upload names no state hash: metadata %v", info.Metadata)
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
	// One LSN per commit: a record ends at every LSN, the old
	// checkpoint's included.
	if _, err := load(ctx, lb, pages, 1, int(ckpt-lb.LastLSN())+2, 1); err != nil {
		t.Fatal(err)
	}
	if lb.LastLSN() <= ckpt {
		t.Fatalf("the new history is at LSN %d, the old checkpoint at %d: not the case under test", lb.LastLSN(), ckpt)
	}
	if _, err := a2.res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: name, Metadata: info.Metadata}, bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	var downloaded atomic.Bool
	f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: filepath.Join(parent, "f"), FollowOnly: true, Logf: logs.logf,
		beforePosition: func(from mmsb.LSN) {
			if from == ckpt {
				downloaded.Store(true)
			}
		}})
	fb := waitApplied(t, f, lb.LastLSN())
	if fb.LastLSN() != lb.LastLSN() || stateHash(t, fb) != stateHash(t, lb) {
		t.Fatalf("node f at LSN %d, state %x; want the leader's LSN %d, state %x", fb.LastLSN(), stateHash(t, fb), lb.LastLSN(), stateHash(t, lb))
	}
	if downloaded.Load() {
		t.Fatalf("node f downloaded the stored checkpoint at LSN %d and bootstrapped from it, though its metadata's state hash showed it foreign", ckpt)
	}
	want := fmt.Sprintf("bootstrap: skipped the stored checkpoint at LSN %d (object %s in MMSB_CKPT_t) without downloading it: its metadata names state hash %s", ckpt, name, info.Metadata[ckptHashKey])
	if logs.count(want) == 0 {
		t.Fatalf("no line says %q", want)
	}
	if divergedDirs(t, parent) != 0 {
		t.Fatal("a directory was set aside")
	}
}
