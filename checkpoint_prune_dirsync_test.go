package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestPruneDirSyncFailureKeepsLog: a checkpoint that removes the oldest
// checkpoint fsyncs the checkpoint directory before it trims the log. When
// that fsync fails, the checkpoint reports it and leaves the log alone, so
// a power failure that brings the removed checkpoint back leaves a
// directory whose every checkpoint still replays to the present. The
// error was ignored and the log trimmed: in the power-failure image the
// oldest checkpoint's replay failed with "log jumps from LSN 24 to 37"
// (TestFaultSweep found it).
func TestPruneDirSyncFailureKeepsLog(t *testing.T) {
	env := newFaultEnv(t, false, SyncGroup)
	env.setup()
	env.commitN(2)
	// The new checkpoint's own directory fsync (after its rename) passes;
	// the one after the removal of the oldest checkpoint fails.
	env.lazy.set(errorfs.After(1, errorfs.OnPath("checkpoints", errorfs.OnKind(errorfs.OpSyncDir, errorfs.ErrInjected))))
	env.tog.On()
	_, err := env.e.Checkpoint(ctx)
	env.tog.Off()
	env.durable = env.acked
	env.commitN(1)
	// Every power-failure image (the removed checkpoint back or not) must
	// replay from its oldest checkpoint and its newest.
	env.crashImages(env.durable, env.acked, "power failure after a failed fsync of the pruned checkpoint directory")
	if !errors.Is(err, errorfs.ErrInjected) || errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "not trimmed") {
		t.Fatalf("Checkpoint with a failing directory fsync after pruning: %v, want the injected error, saying the log is not trimmed, without failing the bus", err)
	}
	if env.fs.Injected() != 1 {
		t.Fatalf("%d faults injected, want 1", env.fs.Injected())
	}
}
