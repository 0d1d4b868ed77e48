package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplayToTimeBeforeFirstCommitSaysSo: a --to-time before the first
// commit replays nothing. DIR2 is the state at that time, an empty bus
// (exit 0, LSN 0), and stderr says that nothing was committed by then,
// naming the time: the empty bus was written without a word. A time
// after the commits says nothing of the kind.
func TestReplayToTimeBeforeFirstCommitSaysSo(t *testing.T) {
	tb := newTestBus(t)
	before := "2000-01-02T03:04:05Z"
	out := filepath.Join(t.TempDir(), "o")
	r := runCLI(t, "replay", tb.dir, "--to-time", before, "--out", out).mustCode(t, exitOK)
	want := "nothing in " + tb.dir + " was committed at or before --to-time " + before
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if res := replayJSON(t, tb.dir, "--to-time", before, "--out", filepath.Join(t.TempDir(), "o")); res.LSN != 0 {
		t.Errorf("replayed to LSN %d, want 0", res.LSN)
	}
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = runCLI(t, "replay", tb.dir, "--to-time", later, "--out", filepath.Join(t.TempDir(), "o")).mustCode(t, exitOK)
	if strings.Contains(r.stderr, "nothing in") {
		t.Errorf("a replay of every commit says nothing was committed:\n%s", r.stderr)
	}
}
