package replicate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestNodeFollowsBootstrappedDirectoryWithoutTermFile: a node killed after
// its bootstrap renamed the stored checkpoint into place, before it read
// the stream's first record (where it first writes DIR/replicate-term),
// leaves a bus directory with no term file. It is a replica of this
// stream: started again, the node follows it, neither refusing it nor
// setting it aside. (A directory holding a bus and no term file is not
// proof of a standalone bus made by mmsb.Open: NewNode writes
// DIR/replicate-stream before the bootstrap, and the refusal of a bus
// without either file, TestNodeRefusesStandaloneBus, must not break these
// replicas.)
func TestNodeFollowsBootstrappedDirectoryWithoutTermFile(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	dir := filepath.Join(parent, "b")
	// The killed node: NewNode marked the directory, Run bootstrapped it.
	if _, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "b", Dir: dir, Conn: connect(t, c.URL()), FollowOnly: true}); err != nil {
		t.Fatal(err)
	}
	if lsn, err := bootstrap(ctx, a.res, dir); err != nil || lsn != ckpt {
		t.Fatalf("bootstrap = %d, %v; want %d, nil", lsn, err, ckpt)
	}
	if _, err := os.Stat(filepath.Join(dir, termFile)); !os.IsNotExist(err) || !hasState(dir) {
		t.Fatalf("after the bootstrap: term file stat %v, state %v; want no term file and a bus", err, hasState(dir))
	}
	b := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", Dir: dir, FollowOnly: true})
	bus := waitApplied(t, b, a.Leader().LastLSN())
	if got, want := stateHash(t, bus), stateHash(t, a.Leader()); got != want {
		t.Errorf("replica's state hash %x, leader's %x", got, want)
	}
	b.stop()
	if n := divergedDirs(t, parent); n != 0 {
		t.Errorf("%d directories set aside beside %s, want none", n, dir)
	}
}
