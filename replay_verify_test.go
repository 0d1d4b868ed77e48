package mmsb

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// verifyReplayBus opens a bus in a fresh directory, writes a few pages,
// checkpoints, and writes some more, so that a replay from the checkpoint
// and a replay from LSN 1 are different paths to the same state. It
// returns the bus and the checkpoint taken.
func verifyReplayBus(t *testing.T) (*Bus, CheckpointInfo) {
	t.Helper()
	ctx := context.Background()
	e, err := Open(t.TempDir(), &Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 64}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	write := func(b byte) {
		t.Helper()
		for _, id := range ids {
			if _, err := e.Commit(ctx, []delta.Delta{{Page: id, Runs: []delta.Run{{Offset: uint32(b), Data: []byte{b, b + 1}}}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(1)
	ck, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	write(9)
	return e, ck
}

// TestVerifyReplayReportsItsCheckpoint: a replay from the newest
// checkpoint says which checkpoint, and which LSN, it started from.
func TestVerifyReplayReportsItsCheckpoint(t *testing.T) {
	e, ck := verifyReplayBus(t)
	rep, err := e.VerifyReplay(context.Background(), true)
	if err != nil || !rep.Equal() {
		t.Fatalf("replay from the checkpoint: %v %+v", err, rep)
	}
	if rep.FromCheckpoint != ck.Path || rep.CheckpointLSN != ck.LSN || ck.LSN == 0 {
		t.Fatalf("replay started from %q at LSN %d, want %q at LSN %d", rep.FromCheckpoint, rep.CheckpointLSN, ck.Path, ck.LSN)
	}
	full, err := e.VerifyReplay(context.Background(), false)
	if err != nil || !full.Equal() || full.FromCheckpoint != "" || full.CheckpointLSN != 0 {
		t.Fatalf("replay from LSN 1: %v %+v", err, full)
	}
}

// TestVerifyReplayFromUnloadableCheckpointFails: when the newest checkpoint
// does not load, a replay asked to start from it must fail and say why,
// not quietly replay from LSN 1 (which leaves the checkpoint unchecked and
// reports a clean replay).
func TestVerifyReplayFromUnloadableCheckpointFails(t *testing.T) {
	e, ck := verifyReplayBus(t)
	b, err := os.ReadFile(ck.Path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(ck.Path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := e.VerifyReplay(context.Background(), true)
	if err == nil {
		t.Fatalf("replay from a corrupt checkpoint succeeded, started from %q: %+v", rep.FromCheckpoint, rep)
	}
	if !errors.Is(err, ErrNoCheckpoint) || !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), ck.Path) {
		t.Fatalf("error %v: want ErrNoCheckpoint and ErrCorruption, naming %s", err, ck.Path)
	}
	// The full replay does not need the checkpoint and still succeeds.
	if full, err := e.VerifyReplay(context.Background(), false); err != nil || !full.Equal() {
		t.Fatalf("replay from LSN 1: %v %+v", err, full)
	}
}
