package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSkippedCheckpointSaysWhereRecoveryStarted: the note of a checkpoint
// recovery passed over says where recovery started: the older checkpoint
// it loaded, by name, or an empty bus and the log from LSN 1 when there
// was none. It said "started from an older one and the log" of a bus
// whose only checkpoint was damaged.
func TestSkippedCheckpointSaysWhereRecoveryStarted(t *testing.T) {
	t.Run("only checkpoint", func(t *testing.T) {
		tb := newTestBus(t)
		ckpts, err := filepath.Glob(filepath.Join(tb.dir, "checkpoints", "checkpoint-*.ckpt"))
		if err != nil || len(ckpts) != 1 {
			t.Fatalf("checkpoints %v (%v), want 1", ckpts, err)
		}
		flipByte(t, ckpts[0], 200)
		r := runCLI(t, "checkpoint", tb.dir).mustCode(t, exitOK)
		if !strings.Contains(r.stderr, "passed over a checkpoint that does not load and started from an empty bus and the log from LSN 1 (") ||
			strings.Contains(r.stderr, "started from an older one") {
			t.Errorf("stderr does not say recovery started from an empty bus:\n%s", r.stderr)
		}
	})
	t.Run("older checkpoint", func(t *testing.T) {
		dir, newest := damagedNewestCheckpoint(t)
		ckpts, err := filepath.Glob(filepath.Join(dir, "checkpoints", "checkpoint-*.ckpt"))
		if err != nil || len(ckpts) != 2 || ckpts[1] != newest {
			t.Fatalf("checkpoints %v (%v), want 2, the newest %s", ckpts, err, newest)
		}
		r := runCLI(t, "checkpoint", dir).mustCode(t, exitOK)
		if want := "passed over a checkpoint that does not load and started from the older checkpoint " + ckpts[0] + " (LSN "; !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	})
}
