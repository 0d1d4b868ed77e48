package replicate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// lostFilesDir makes dir what is left of a bus whose files were lost:
// checkpoints/log-mode saying "log", no log segment (wal/ missing, or
// empty when keepWal) and no checkpoint. mmsb.Open refuses it
// (ErrCorruption, since 2026-12-07); replicate's hasState counts none of
// it as state.
func lostFilesDir(t *testing.T, dir string, keepWal bool) {
	t.Helper()
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(dir, "wal")
	if err := os.RemoveAll(wal); err != nil {
		t.Fatal(err)
	}
	if keepWal {
		if err := os.Mkdir(wal, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if hasState(dir) {
		t.Fatalf("hasState(%s) = true (the case under test: the log-mode file only)", dir)
	}
	if lost, err := lostBusFiles(dir); err != nil || lost == nil {
		t.Fatalf("lostBusFiles(%s) = %v, %v; want the files lost", dir, lost, err)
	}
}

// checkLostFilesSetAside checks that one directory beside the node's
// was set aside, holding the lost bus's log-mode file, and that a line
// said why.
func checkLostFilesSetAside(t *testing.T, parent string, logs *logLines) {
	t.Helper()
	if d := divergedDirs(t, parent); d != 1 {
		t.Fatalf("%d directories set aside beside the node's, want 1 (what is left of the lost bus)", d)
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".diverged-") {
			if _, err := os.Stat(filepath.Join(parent, e.Name(), "checkpoints", tlog.ModeFileName)); err != nil {
				t.Errorf("the set-aside directory lacks the log-mode file: %v", err)
			}
		}
	}
	if logs.count("its bus's files were lost") == 0 {
		t.Error("no line says the bus's files were lost")
	}
}

// TestFollowerWithLostFilesIsSetAsideAndRebuilt: a follower's directory
// holds what is left of a bus whose files were lost (checkpoints/log-mode
// says "log"; no segment, no checkpoint), which mmsb.Open refuses. The
// node sets it aside, never deleting it, and rebuilds from the stream:
// with no stored checkpoint and a stream from LSN 1 (where every cycle
// failed with the lost-files error, for ever: "follower at LSN 0, want
// …"), and from a stored checkpoint (where the download beside the stale
// log-mode file was refused as a removed log, the checkpoint blamed as
// one that "does not load", and nothing set aside).
func TestFollowerWithLostFilesIsSetAsideAndRebuilt(t *testing.T) {
	t.Run("stream from LSN 1", func(t *testing.T) {
		ctx := context.Background()
		c := startTestCluster(t, 1)
		parent := t.TempDir()
		a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: filepath.Join(parent, "a")})
		_, lb := waitLeader(t, a)
		pages := createPages(t, lb, 2)
		if _, err := load(ctx, lb, pages, 1, 3, 2); err != nil {
			t.Fatal(err)
		}
		fdir := filepath.Join(parent, "f")
		lostFilesDir(t, fdir, false)
		logs := &logLines{t: t}
		f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: fdir, FollowOnly: true, Logf: logs.logf})
		fb := waitApplied(t, f, lb.LastLSN())
		if stateHash(t, fb) != stateHash(t, lb) {
			t.Fatalf("node f at LSN %d, state %x; want the leader's state %x", fb.LastLSN(), stateHash(t, fb), stateHash(t, lb))
		}
		f.stop()
		checkLostFilesSetAside(t, parent, logs)
	})
	// BusOptions.Repair accepts the loss: the directory is opened, as
	// asked, not set aside.
	t.Run("Repair", func(t *testing.T) {
		ctx := context.Background()
		c := startTestCluster(t, 1)
		parent := t.TempDir()
		a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: filepath.Join(parent, "a")})
		_, lb := waitLeader(t, a)
		if _, err := load(ctx, lb, createPages(t, lb, 1), 1, 2, 1); err != nil {
			t.Fatal(err)
		}
		fdir := filepath.Join(parent, "f")
		lostFilesDir(t, fdir, false)
		f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: fdir, FollowOnly: true, BusOptions: &mmsb.Options{Repair: true}})
		fb := waitApplied(t, f, lb.LastLSN())
		if stateHash(t, fb) != stateHash(t, lb) {
			t.Fatalf("node f at LSN %d, state %x; want the leader's state %x", fb.LastLSN(), stateHash(t, fb), stateHash(t, lb))
		}
		f.stop()
		if d := divergedDirs(t, parent); d != 0 {
			t.Errorf("%d directories set aside with BusOptions.Repair, want 0", d)
		}
	})
	t.Run("stored checkpoint", func(t *testing.T) {
		c := startTestCluster(t, 1)
		parent := t.TempDir()
		a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
		lb := a.Leader()
		if lb == nil {
			t.Fatal("node a does not lead")
		}
		fdir := filepath.Join(parent, "f")
		lostFilesDir(t, fdir, true)
		logs := &logLines{t: t}
		var from []mmsb.LSN
		f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: fdir, Logf: logs.logf,
			beforePosition: func(l mmsb.LSN) { from = append(from, l) }}) // Run's goroutine only
		fb := waitApplied(t, f, lb.LastLSN())
		if stateHash(t, fb) != stateHash(t, lb) {
			t.Fatalf("node f at LSN %d, state %x; want the leader's state %x", fb.LastLSN(), stateHash(t, fb), stateHash(t, lb))
		}
		f.stop()
		if len(from) == 0 || from[0] != ckpt {
			t.Errorf("node f bootstrapped from %v; want the stored checkpoint at LSN %d first", from, ckpt)
		}
		if n := logs.count("does not load"); n != 0 {
			t.Errorf("%d lines blame the stored checkpoint as one that does not load", n)
		}
		checkLostFilesSetAside(t, parent, logs)
	})
	// A directory holding a checkpoint without its log: wal/ missing (as
	// setAside leaves it when a crash comes between its moves of wal/
	// and checkpoints/), then wal/ without a segment. Open refused it at
	// every cycle, for ever.
	t.Run("checkpoint without its log", func(t *testing.T) {
		c := startTestCluster(t, 1)
		parent := t.TempDir()
		a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
		lb := a.Leader()
		if lb == nil {
			t.Fatal("node a does not lead")
		}
		fdir := filepath.Join(parent, "f")
		logs := &logLines{t: t}
		f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: fdir, FollowOnly: true, Logf: logs.logf})
		waitApplied(t, f, ckpt)
		f.stop()
		wal := filepath.Join(fdir, "wal")
		for i, keepWal := range []bool{false, true} {
			if err := os.RemoveAll(wal); err != nil {
				t.Fatal(err)
			}
			if keepWal {
				if err := os.Mkdir(wal, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if lost, err := lostBusFiles(fdir); err != nil || lost == nil {
				t.Fatalf("lostBusFiles(%s) with wal/ kept %v = %v, %v; want the log lost", fdir, keepWal, lost, err)
			}
			f = startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: fdir, FollowOnly: true, Logf: logs.logf})
			fb := waitApplied(t, f, lb.LastLSN())
			if stateHash(t, fb) != stateHash(t, lb) {
				t.Fatalf("node f at LSN %d, state %x; want the leader's state %x", fb.LastLSN(), stateHash(t, fb), stateHash(t, lb))
			}
			f.stop()
			if d := divergedDirs(t, parent); d != i+1 {
				t.Fatalf("%d directories set aside beside the node's after %d lost logs, want %d", d, i+1, i+1)
			}
		}
		if n := logs.count("its bus's files were lost"); n != 2 {
			t.Errorf("%d lines say the bus's files were lost, want 2", n)
		}
	})
}

// TestInterruptedClearBootstrapsAgain: a crash interrupts removeBusFiles
// after its first removal, in a directory rebuilt from the stored
// checkpoint (what clearRebuilt empties: the downloaded checkpoint, the
// log-mode file and a segment holding no record). The node, restarted,
// bootstraps again and follows. When wal/ went first, what was left (the
// checkpoint and the log-mode file without wal/) was refused by Open as
// a removed log at every cycle, for ever: "follower at LSN 0, want …".
func TestInterruptedClearBootstrapsAgain(t *testing.T) {
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	lb := a.Leader()
	if lb == nil {
		t.Fatal("node a does not lead")
	}
	fdir := filepath.Join(parent, "f")
	f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: fdir, FollowOnly: true})
	waitApplied(t, f, ckpt)
	f.stop()
	keep := ckptFileName(ckpt)
	if _, err := os.Stat(filepath.Join(fdir, "checkpoints", keep)); err != nil || hasStateBesides(fdir, keep) {
		t.Fatalf("node f's directory is not one rebuilt from the stored checkpoint at LSN %d alone (%v): not the case under test", ckpt, err)
	}
	// The crash: the first removal done, the others not.
	if err := os.RemoveAll(filepath.Join(fdir, clearOrder[0])); err != nil {
		t.Fatal(err)
	}
	f = startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: fdir, FollowOnly: true})
	fb := waitApplied(t, f, lb.LastLSN())
	if stateHash(t, fb) != stateHash(t, lb) {
		t.Fatalf("node f at LSN %d, state %x; want the leader's state %x", fb.LastLSN(), stateHash(t, fb), stateHash(t, lb))
	}
	f.stop()
	if d := divergedDirs(t, parent); d != 0 {
		t.Errorf("%d directories set aside, want 0: the directory held only the stored checkpoint", d)
	}
}
