package mmsb

import (
	"context"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestSkippedCheckpointNotRetained: a checkpoint that recovery skipped
// (it does not load) must not count as one of the two retained
// checkpoints. Before the fix, the next checkpoint kept it and pruned the
// good older one, and trimmed the log up to the skipped one's LSN: the bus
// was left with one loadable checkpoint, so a damaged newest checkpoint,
// which two retained checkpoints exist to survive, lost the state.
func TestSkippedCheckpointNotRetained(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	opts := &Options{FS: fs, SegmentBytes: 4 << 10, CheckpointBytes: -1}
	e, err := Open("/db", opts)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 1024}, {Size: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	seq := byte(0)
	round := func() {
		t.Helper()
		for range 12 { // about 6 KiB of log: at least one rotation a round
			seq++
			var ds []delta.Delta
			for _, id := range ids {
				ds = append(ds, delta.Delta{Page: id, Runs: []delta.Run{{Offset: 0, Data: bytesOf(seq, 256)}}})
			}
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Fatal(err)
			}
		}
	}
	ckpt := func() CheckpointInfo {
		t.Helper()
		ck, err := e.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ck
	}
	round()
	ckpt()
	round()
	c2 := ckpt()
	round()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	flipByte(t, fs, c2.Path, -30)
	if e, err = Open("/db", opts); err != nil {
		t.Fatal(err)
	}
	if len(e.Recovery().SkippedCheckpoint) != 1 {
		t.Fatalf("skipped %q, want the damaged %s", e.Recovery().SkippedCheckpoint, c2.Path)
	}
	round()
	c3 := ckpt()
	round()
	want, err := e.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// One more damaged checkpoint, the newest: the older retained one and
	// the log must still recover everything.
	flipByte(t, fs, c3.Path, -30)
	e, err = Open("/db", opts)
	if err != nil {
		t.Fatalf("open with the newest checkpoint damaged: %v", err)
	}
	defer e.Close()
	if got, err := e.StateHash(); err != nil || got != want {
		t.Fatalf("recovered state hash %x (%v), want %x", got, err, want)
	}
}
