package replicate

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestLeaderLeadsOnWithCheckpointBucketDeleted: the checkpoint bucket is
// deleted under a leader that archives every 3 records, with a second
// node following. The leader's failed uploads do not end its role: it
// leads on in the same term through two archives past the deletion
// (its local checkpoints show them), every commit is acknowledged, a
// line says the bucket was deleted, and the follower reaches the
// leader's state, as does a node started once the bucket is made again.
// Before, each failed upload ended the role ("nats: no
// responders available for request"): the nodes took turns leading, a
// new term every 3 records.
func TestLeaderLeadsOnWithCheckpointBucketDeleted(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	logs := &logLines{t: t}
	cfg := func(id string) NodeConfig {
		return NodeConfig{Config: testConfig(1), ID: id, Dir: filepath.Join(parent, id), CheckpointEvery: 3, Logf: logs.logf}
	}
	a, b := startNode(t, c, cfg("a")), startNode(t, c, cfg("b"))
	ln, lb := waitLeader(t, a, b)
	pages := createPages(t, lb, 1)
	if _, err := load(ctx, lb, pages, 1, 4, 1); err != nil {
		t.Fatal(err)
	}
	if err := ln.res.js.DeleteObjectStore(ctx, ln.res.cfg.CheckpointBucket()); err != nil {
		t.Fatal(err)
	}
	term, _ := ln.LastLead()
	// newestLocal is the LSN of the leader's newest local checkpoint:
	// each archive takes one before its upload.
	newestLocal := func() mmsb.LSN {
		files, _, err := checkpoint.ListFiles(vfs.Default, filepath.Join(ln.cfg.Dir, "checkpoints"))
		if err != nil {
			t.Fatal(err)
		}
		var newest mmsb.LSN
		for _, f := range files {
			newest = max(newest, mmsb.LSN(f.LSN))
		}
		return newest
	}
	for archive := range 2 {
		if _, err := load(ctx, lb, pages, 1, 3, 1); err != nil {
			t.Fatalf("commit after the bucket was deleted (archive %d): %v", archive+1, err)
		}
		want := lb.LastLSN()
		deadline := time.Now().Add(20 * time.Second)
		for newestLocal() < want && ln.Leader() == lb && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got, _ := ln.LastLead(); ln.Leader() != lb || got != term {
			_, ended := ln.LastLead()
			t.Fatalf("after archive %d past the bucket's deletion, node %s leads no more (term %d, was %d): %v", archive+1, ln.ID(), got, term, ended)
		}
		if newestLocal() < want {
			t.Fatalf("no archive at LSN %d within 20 s", want)
		}
	}
	// Said once the bucket is found missing after 3 failed archives in
	// a row (the leader then makes it again:
	// TestLeaderRemakesDeletedCheckpointBucket).
	for deadline := time.Now().Add(20 * time.Second); logs.count("checkpoint bucket MMSB_CKPT_t was deleted") == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no line says the checkpoint bucket was deleted")
		}
	}
	other := a
	if ln == a {
		other = b
	}
	if fb := waitApplied(t, other, lb.LastLSN()); stateHash(t, fb) != stateHash(t, lb) {
		t.Fatalf("node %s at LSN %d is not at the leader's state", other.ID(), fb.LastLSN())
	}
	// A node started makes the bucket again (NewNode); the leader leads
	// on through its next archive, and the new node reaches its state.
	g := startNode(t, c, cfg("g"))
	if _, err := load(ctx, lb, pages, 1, 3, 1); err != nil {
		t.Fatal(err)
	}
	if gb := waitApplied(t, g, lb.LastLSN()); stateHash(t, gb) != stateHash(t, lb) {
		t.Fatalf("node g at LSN %d is not at the leader's state", gb.LastLSN())
	}
}
