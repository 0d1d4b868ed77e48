package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayNamesLeftoverBuildDirectory: `mmsb replay` builds DIR2 in a
// hidden directory beside it (.NAME.replay-*) and renames it into place;
// a replay killed (SIGKILL) while building left that directory, a whole
// copy of the replayed state, and the next replay said nothing of it
// (observed: .out.replay-2833176230, 32 MiB, after a kill 0.7 s in). The
// next replay into the same DIR2 names it on stderr and says to remove
// it; it removes nothing (another replay may be building there).
func TestReplayNamesLeftoverBuildDirectory(t *testing.T) {
	tb := newTestBus(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	left := filepath.Join(parent, ".out.replay-123")
	if err := os.MkdirAll(filepath.Join(left, "checkpoints"), 0o700); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(parent, ".other.replay-456") // another DIR2's: not named
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "replay", "--no-progress", tb.dir, "--out", out).mustCode(t, exitOK)
	if !strings.Contains(r.stderr, "note: "+left+" is left by a replay") || strings.Contains(r.stderr, other) {
		t.Fatalf("replay beside a leftover build directory, stderr:\n%s", r.stderr)
	}
	if _, err := os.Stat(left); err != nil {
		t.Errorf("the leftover was removed (%v): another replay may be building there", err)
	}
}
