package replicate

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestFollowOnlyRestartsOnEmptiedStream: a follow-only replica restarted
// while the stream stays emptied (an operator purged it, no leader
// publishes) and the newest stored checkpoint is the leader's state is set
// aside at most once: a replica that followed the records live is set
// aside at its first restart (nothing proves its state is the
// checkpoint's without the records) and rebuilt from the checkpoint; from
// then on, and for a replica bootstrapped from the checkpoint, the
// directory holds the checkpoint's file and is followed as it is. Before,
// every restart set the directory aside again and rebuilt it from the
// same checkpoint: one more DIR.diverged-* copy per restart.
func TestFollowOnlyRestartsOnEmptiedStream(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, first := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	live := filepath.Join(parent, "live")
	b := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", Dir: live, FollowOnly: true})
	waitApplied(t, b, first)
	// Records b applies live, and the checkpoint a stores after them: b
	// holds the stored state at its LSN, but not the checkpoint's file.
	bus := a.Leader()
	if _, err := load(ctx, bus, createPages(t, bus, 1), 1, 2, 1); err != nil {
		t.Fatal(err)
	}
	ckpt := bus.LastLSN()
	deadline := time.Now().Add(60 * time.Second)
	for {
		lsns, err := a.res.checkpointObjects(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(lsns) > 0 && lsns[len(lsns)-1] == ckpt {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint at LSN %d stored within 60 s (stored: %v)", ckpt, lsns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := stateHash(t, bus)
	waitApplied(t, b, ckpt)
	b.stop()
	a.stop()
	if err := a.res.stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}

	const restarts = 4
	restart := func(dir string) {
		t.Helper()
		for i := range restarts {
			n := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", Dir: dir, FollowOnly: true})
			bus := waitApplied(t, n, ckpt)
			if got := stateHash(t, bus); bus.LastLSN() != ckpt || got != want {
				t.Fatalf("restart %d of %s: bus at LSN %d with state hash %x, want LSN %d, %x", i+1, dir, bus.LastLSN(), got, ckpt, want)
			}
			n.stop()
		}
	}
	restart(live)
	if n := divergedDirs(t, parent); n != 1 {
		t.Errorf("after %d restarts of a replica that followed live: %d directories set aside, want 1", restarts, n)
	}
	// A replica made after the purge: bootstrapped at its first start.
	restart(filepath.Join(parent, "boot"))
	if n := divergedDirs(t, parent); n != 1 {
		t.Errorf("after %d restarts of a bootstrapped replica: %d directories set aside in all, want the first replica's 1", restarts, n)
	}
}
