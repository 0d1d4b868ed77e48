package mmsb

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestCheckpointHonoursContext: Checkpoint took a context and ignored it,
// so a caller who gave up (a server request whose client went away, a
// deadline) still had a whole checkpoint written, paced at
// CheckpointWriteRate: a gigabyte takes 16 s at the default. It must
// return the context's error, leave no file and not count as a failed
// checkpoint (Stats, and the log's growth bound that follows failures).
// Cancelled before it starts, and cancelled between two ranges of pages.
func TestCheckpointHonoursContext(t *testing.T) {
	for _, tc := range []struct {
		name        string
		afterRanges int // cancel once this many ranges are copied; -1: before the call
	}{
		{"before", -1},
		{"between ranges", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := openT(t, dir, &Options{CheckpointBytes: -1})
			defer e.Close()
			ids := mustCreate(t, e, 3*ckptRangePages, 16) // three ranges
			if _, err := e.Commit(ctx, []Delta{w(ids[0], 0, "x")}); err != nil {
				t.Fatal(err)
			}
			c, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.afterRanges < 0 {
				cancel()
			} else {
				ranges := 0
				e.ckptAfterStep1 = func() {
					if ranges++; ranges == tc.afterRanges {
						cancel()
					}
				}
			}
			info, err := e.Checkpoint(c)
			e.ckptAfterStep1 = nil
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Checkpoint(cancelled) = %+v, %v; want context.Canceled", info, err)
			}
			names, _ := e.FS().List(e.CheckpointDir())
			if len(names) != 1 || names[0] != tlog.ModeFileName { // Open wrote log-mode; no checkpoint file may be left
				t.Fatalf("files left: %v, want only %s", names, tlog.ModeFileName)
			}
			if st := e.Stats(); st.CheckpointFailures != 0 || st.CheckpointFailStreak != 0 {
				t.Fatalf("a cancelled checkpoint counted as failed: %d failures, streak %d", st.CheckpointFailures, st.CheckpointFailStreak)
			}
			// The bus goes on: the next checkpoint is whole.
			info, err = e.Checkpoint(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := checkpoint.Verify(e.FS(), info.Path); err != nil {
				t.Fatal(err)
			}
		})
	}
}
