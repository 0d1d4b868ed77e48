package mmsb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestReplayWithoutLogNameHoldingNoFile: on a bus without a log, a
// dangling symbolic link under the name of the checkpoint at the target's
// LSN holds no state: Replay is ErrLogTruncated, as with a directory
// under that name. Before, it was reported as the checkpoint that holds
// the state and does not load, with neither ErrLogTruncated nor
// ErrCorruption to tell a caller which.
func TestReplayWithoutLogNameHoldingNoFile(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, &Options{DisableLog: true, CheckpointBytes: -1})
	mustCreate(t, e, 2, 8)
	name := filepath.Join(dir, "checkpoints", fmt.Sprintf("checkpoint-%020d.ckpt", e.LastLSN()))
	if err := os.Symlink(filepath.Join(dir, "nowhere"), name); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	r, err := e.Replay(ctx, ReplayTarget{})
	if r != nil {
		r.Close()
	}
	if !errors.Is(err, ErrLogTruncated) || errors.Is(err, ErrCorruption) {
		t.Errorf("Replay(last LSN %d) with a dangling link under its checkpoint's name = %v; want ErrLogTruncated", e.LastLSN(), err)
	}
}
