package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestCheckpointMissingLogDir: a data directory whose wal/ was removed
// lost every commit after its newest checkpoint. Open does not notice (it
// makes an empty log), so `mmsb checkpoint` wrote a checkpoint of what
// was left, at the old checkpoint's LSN or at LSN 0, and exited 0: the
// loss went unreported, and the next writer reused the lost LSNs. The
// command now refuses, naming wal/, and changes nothing (no wal/ made, no
// checkpoint written). The control checkpoints the intact directory. A
// wal/ made again by hand (empty) was the loss accepted until
// checkpoints/log-mode; it is a log emptied of its segments now, refused
// the same way (Options.Repair accepts the loss).
func TestCheckpointMissingLogDir(t *testing.T) {
	for _, c := range []struct {
		name         string
		checkpointed bool
		removeLog    bool
		remakeLog    bool
		code         int
	}{
		{"log removed, no checkpoint", false, true, false, exitFailure},
		{"log removed after a checkpoint", true, true, false, exitFailure},
		{"intact", true, false, false, exitOK},
		{"log removed and made again empty", true, true, true, exitFailure},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := missingLogBus(t, c.checkpointed)
			wal := filepath.Join(dir, "wal")
			if c.removeLog {
				if err := os.RemoveAll(wal); err != nil {
					t.Fatal(err)
				}
			}
			if c.remakeLog {
				if err := os.Mkdir(wal, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			before := checkpointLSNs(filepath.Join(dir, "checkpoints"))
			r := runCLI(t, "checkpoint", dir).mustCode(t, c.code)
			if c.code == exitOK {
				return
			}
			want := "has checkpoints/ but no wal/"
			if c.remakeLog {
				want = "holds no log segment"
			}
			if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, wal) {
				t.Errorf("stderr %q, want it to name %s and say %q", r.stderr, wal, want)
			}
			if _, err := os.Stat(wal); !c.remakeLog && !os.IsNotExist(err) {
				t.Errorf("the refused checkpoint made %s (stat: %v)", wal, err)
			}
			if after := checkpointLSNs(filepath.Join(dir, "checkpoints")); len(after) != len(before) {
				t.Errorf("the refused checkpoint wrote one: checkpoints at %v before, %v after", before, after)
			}
		})
	}
}

// TestCheckMissingLogDir: `mmsb check` of a directory whose wal/ was
// removed read it as an empty log and said "OK" (exit 0): the replays
// agreed with the checkpoints, and nothing recorded how far the log had
// gone. It is a problem naming wal/ (exit 1). The control checks the
// intact directory.
func TestCheckMissingLogDir(t *testing.T) {
	for _, c := range []struct {
		name      string
		removeLog bool
		code      int
	}{
		{"log removed", true, exitFailure},
		{"intact", false, exitOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			runCLI(t, "bench", "--no-progress", "--dir", dir, "--pages", "2", "--page-size", "16", "--delta-size", "8", "--count", "20").mustCode(t, exitOK)
			runCLI(t, "checkpoint", dir).mustCode(t, exitOK)
			wal := filepath.Join(dir, "wal")
			if c.removeLog {
				if err := os.RemoveAll(wal); err != nil {
					t.Fatal(err)
				}
			}
			r := runCLI(t, "check", dir).mustCode(t, c.code)
			if c.code == exitOK {
				return
			}
			if !strings.Contains(r.stdout, "PROBLEM "+wal+": ") || !strings.Contains(r.stdout, "has checkpoints/ but no wal/") {
				t.Errorf("stdout %q, want a problem naming %s", r.stdout, wal)
			}
		})
	}
}

// missingLogBus writes a data directory with 8 commits to one page, with a
// checkpoint after the first 4 (LSN 5 of 9) when checkpointed, and
// returns it: the tests of commands on a directory whose wal/ is then
// removed start from it.
func missingLogBus(t *testing.T, checkpointed bool) string {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, &mmsb.Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], uint32(i), []byte{byte(i + 1)})}); err != nil {
			t.Fatal(err)
		}
		if i == 3 && checkpointed {
			if _, err := bus.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}
