package replicate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestNodeAtLSN0OnEmptiedStreamBootstraps: a replica whose bus is at
// LSN 0 but holds files (here the checkpoint of an empty bus, as a
// hand-emptied directory may keep) met a stream emptied by a purge while
// the leader's state is stored as a checkpoint. positionOnce took LSN 0
// against the empty stream without looking at the object store: the node
// took the lease and led from the empty state, its records restarting at
// LSN 1 below the stored checkpoint (every acknowledged commit up to it
// gone from the new history). It is behind the stored state now
// (ErrNeedBootstrap): set aside once, rebuilt from the newest stored
// checkpoint, and it leads from there.
func TestNodeAtLSN0OnEmptiedStreamBootstraps(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	want := stateHash(t, a.Leader())
	stream := a.res.cfg.StreamName()
	a.stop()
	if err := a.res.stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(parent, "b")
	bus, err := mmsb.Open(dir, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if err := saveMarker(dir, stream); err != nil {
		t.Fatal(err)
	}
	if !hasState(dir) {
		t.Fatalf("hasState(%s) = false: the case under test is a bus at LSN 0 that counts as state", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoints", "checkpoint-00000000000000000000.ckpt")); err != nil {
		t.Fatal(err)
	}

	b := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", Dir: dir, CheckpointEvery: -1})
	_, lb := waitLeader(t, b)
	if got := stateHash(t, lb); lb.LastLSN() != ckpt || got != want {
		t.Fatalf("node b leads at LSN %d with state hash %x, want the stored checkpoint's LSN %d and state %x", lb.LastLSN(), got, ckpt, want)
	}
	info, err := lb.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, []byte("x"))})
	if err != nil {
		t.Fatalf("first commit of the new leader: %v", err)
	}
	if info.FirstLSN != ckpt+1 {
		t.Fatalf("first commit at LSN %d, want %d (after the stored checkpoint)", info.FirstLSN, ckpt+1)
	}
	// Its files are moved aside, not deleted (what a hand-emptied
	// directory kept is the operator's to judge).
	if n := divergedDirs(t, parent); n != 1 {
		t.Errorf("%d directories set aside, want 1 (the bus at LSN 0)", n)
	}
}
