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
)

// TestNodeBootstrapsOverKilledBootstrap: a replica killed while it
// downloaded the stored checkpoint (no deferred cleanup runs on SIGKILL)
// leaves an empty wal/ and checkpoints/checkpoint-<LSN>.ckpt.tmp. Started
// again, the node bootstraps: nothing is set aside, no "not a prefix" line
// is logged, and the temporary file is gone. Before, hasState counted the
// temporary file as state: the node opened an empty bus, found it behind
// the trimmed stream, logged "local state is not a prefix of the stream"
// and moved the directory to DIR.diverged-* before rebuilding.
func TestNodeBootstrapsOverKilledBootstrap(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	// An untrimmed stream lets an empty bus follow from its start: the
	// case below needs the start gone. The leader trims it after the
	// checkpoint is stored, not at once (CI saw it untrimmed once).
	for deadline := time.Now().Add(60 * time.Second); ; {
		info, err := a.res.stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.FirstSeq > 1 {
			break
		}
		if time.Now().After(deadline) { // a failure bound, not a timing assertion
			t.Fatalf("stream starts at sequence %d 60 s after the checkpoint was stored, want it trimmed below it", info.State.FirstSeq)
		}
		time.Sleep(20 * time.Millisecond)
	}

	dir := filepath.Join(parent, "b")
	tmp := filepath.Join(dir, "checkpoints", fmt.Sprintf("checkpoint-%020d.ckpt.tmp", ckpt))
	for _, d := range []string{filepath.Join(dir, "wal"), filepath.Dir(tmp)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(tmp, []byte("the first part of a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if hasState(dir) {
		t.Error("hasState counts a temporary checkpoint file as state")
	}

	var mu sync.Mutex
	var lines []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}
	b := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", Dir: dir, FollowOnly: true, Logf: logf})
	bus := waitApplied(t, b, a.Leader().LastLSN())
	if got, want := stateHash(t, bus), stateHash(t, a.Leader()); got != want {
		t.Errorf("rebuilt replica's state hash %x, leader's %x", got, want)
	}
	b.stop()
	if n := divergedDirs(t, parent); n != 0 {
		t.Errorf("%d directories set aside beside %s, want none", n, dir)
	}
	mu.Lock()
	for _, l := range lines {
		if strings.Contains(l, "not a prefix") {
			t.Errorf("node logged %q", l)
		}
	}
	mu.Unlock()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("%s is still there (stat: %v), want it removed", tmp, err)
	}
}

// TestBootstrapRemovesLeftoverTemporaryCheckpoints: bootstrap removes the
// temporary checkpoint files a killed bootstrap (or checkpoint) left, of
// any LSN, and keeps the checkpoint it downloads.
func TestBootstrapRemovesLeftoverTemporaryCheckpoints(t *testing.T) {
	dir := t.TempDir()
	ckDir := filepath.Join(dir, "checkpoints")
	if err := os.MkdirAll(ckDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var leftovers []string
	for _, lsn := range []int{3, 7} {
		p := filepath.Join(ckDir, fmt.Sprintf("checkpoint-%020d.ckpt.tmp", lsn))
		if err := os.WriteFile(p, []byte("part"), 0o644); err != nil {
			t.Fatal(err)
		}
		leftovers = append(leftovers, p)
	}
	r := &resources{cfg: Config{Bus: "b", AckTimeout: 5 * time.Second}, ckpts: &partialStore{}}
	if lsn, err := bootstrap(context.Background(), r, dir); err != nil || lsn != 7 {
		t.Fatalf("bootstrap = %d, %v; want 7, nil", lsn, err)
	}
	for _, p := range leftovers {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("after bootstrap %s is there (stat: %v), want it removed", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(filepath.Join(ckDir, fmt.Sprintf("checkpoint-%020d.ckpt", 7))); err != nil {
		t.Errorf("the downloaded checkpoint: %v", err)
	}
}
