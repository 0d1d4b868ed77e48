package replicate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestReplicaOfEmptyBusBootstrapsInPlace: a replica that opened its bus
// while the stream held nothing (no record, no stored checkpoint) and
// applied nothing keeps an empty log segment and checkpoints/log-mode
// (every Open with a log leaves them since 2026-12-06). hasState took
// them for bus state, so at the next start, the stream emptied past a
// stored checkpoint, the node opened the empty bus, found it behind the
// stream and set the directory aside (a DIR.diverged-* copy of nothing)
// before bootstrapping; before the kept segment it bootstrapped at once.
// Segments holding no record and the log-mode file are not state now.
func TestReplicaOfEmptyBusBootstrapsInPlace(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	dir := filepath.Join(parent, "b")
	// The empty stream a leader made: a follow-only node makes none, and
	// waits for it without opening its bus (TestFollowOnlyNodeWaitsForStream).
	testResources(t, c, testConfig(1))
	b := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", Dir: dir, FollowOnly: true})
	waitApplied(t, b, 0)
	b.stop()
	if has, err := tlog.HasSegment(vfs.Default, filepath.Join(dir, "wal")); err != nil || !has {
		t.Fatalf("the empty replica's wal/ holds a segment: %v, %v; want true (the case under test)", has, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoints", tlog.ModeFileName)); err != nil {
		t.Fatalf("the empty replica's log-mode file: %v (the case under test)", err)
	}
	if hasState(dir) {
		t.Errorf("hasState(%s) = true for a bus holding nothing", dir)
	}

	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	want := stateHash(t, a.Leader())
	a.stop()
	if err := a.res.stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", Dir: dir, FollowOnly: true})
	bus := waitApplied(t, n, ckpt)
	if got := stateHash(t, bus); bus.LastLSN() != ckpt || got != want {
		t.Fatalf("replica at LSN %d with state hash %x, want LSN %d, %x", bus.LastLSN(), got, ckpt, want)
	}
	n.stop()
	if d := divergedDirs(t, parent); d != 0 {
		t.Errorf("%d directories set aside, want 0: the replica held nothing to keep", d)
	}
}

// TestCheckDirTakesEmptyBus: a directory where mmsb.Open ran and nothing
// was committed holds an empty log segment and checkpoints/log-mode; it
// was refused as a bus no node made ("move it away, or give an empty
// directory") though it holds nothing. It is taken now; one holding a
// page is still refused (the control).
func TestCheckDirTakesEmptyBus(t *testing.T) {
	const stream = "MMSB_LOG_mmsb"
	empty := t.TempDir()
	bus, err := mmsb.Open(empty, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(empty, stream); err != nil {
		t.Errorf("CheckDir of a bus holding nothing: %v", err)
	}
	full := t.TempDir()
	standaloneBus(t, full)
	if err := CheckDir(full, stream); !errors.Is(err, ErrConfig) {
		t.Errorf("CheckDir of a bus holding pages = %v, want ErrConfig", err)
	}
}
