package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayInterruptedAfterTheSnapshot: an interrupt (SIGINT, SIGTERM)
// that arrives once the state is replayed and snapshotted, while it is
// copied into DIR2 and proven, stops the replay: exit 1 saying it was
// interrupted, nothing at DIR2 and nothing left beside it. The copy and
// the proof ran on and the command exited 0 with DIR2 written (on a
// 300,000-page directory for 3 of its 5 seconds). The hook cancels the
// run's context as the copy starts; the control runs without it.
func TestReplayInterruptedAfterTheSnapshot(t *testing.T) {
	tb := newTestBus(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	saved := replaySnapshotHook
	replaySnapshotHook = cancel
	defer func() { replaySnapshotHook = saved }()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"replay", "--no-progress", tb.dir, "--out", out}, &stdout, &stderr)
	if code != exitFailure || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("exit status %d, want 1 saying the replay was interrupted\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("an interrupted replay printed a result:\n%s", stdout.String())
	}
	if names, err := os.ReadDir(parent); err != nil || len(names) != 0 {
		t.Errorf("an interrupted replay left %v in the parent of --out (%v)", names, err)
	}

	replaySnapshotHook = saved
	runCLI(t, "replay", "--no-progress", tb.dir, "--out", out).mustCode(t, exitOK)
}
