package replicate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestBootstrapPassesOverDirectoryAtTempName: a new follower's
// checkpoints/ holds a directory with a file in it under the name the
// download of the stored checkpoint writes to (<name>.ckpt.tmp). The
// bootstrap says it cannot remove it, downloads under the second
// temporary name instead, and the follower reaches the leader's state
// from the stored checkpoint; the directory is left as it was. Before,
// the leftover-removal step failed every bootstrap (and the download's
// own removal would have too), the follower stuck at LSN 0 for ever.
func TestBootstrapPassesOverDirectoryAtTempName(t *testing.T) {
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	lb := a.Leader()
	if lb == nil {
		t.Fatal("node a does not lead")
	}
	fdir := filepath.Join(parent, "f")
	stuck := filepath.Join(fdir, "checkpoints", ckptFileName(ckpt)+".tmp")
	if err := os.MkdirAll(stuck, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stuck, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	var from []mmsb.LSN
	f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: fdir, FollowOnly: true, Logf: logs.logf,
		beforePosition: func(l mmsb.LSN) { from = append(from, l) }}) // Run's goroutine only
	fb := waitApplied(t, f, lb.LastLSN())
	if stateHash(t, fb) != stateHash(t, lb) {
		t.Fatalf("node f at LSN %d, state %x; want the leader's state %x", fb.LastLSN(), stateHash(t, fb), stateHash(t, lb))
	}
	f.stop()
	if len(from) == 0 || from[0] != ckpt {
		t.Fatalf("node f bootstrapped from %v; want the stored checkpoint at LSN %d first", from, ckpt)
	}
	if _, err := os.Stat(filepath.Join(stuck, "x")); err != nil {
		t.Fatalf("the directory at the temporary name lost its file: %v", err)
	}
	if logs.count("bootstrap: checkpoint: remove "+stuck) == 0 {
		t.Fatal("no line says the directory at the temporary name could not be removed")
	}
	ents, err := os.ReadDir(filepath.Join(fdir, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".alt.ckpt.tmp") {
			t.Fatalf("the download left %s", e.Name())
		}
	}
}
