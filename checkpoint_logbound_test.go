package mmsb

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestLogBoundHugeCheckpointBytes guards the log's growth bound against
// huge Options.CheckpointBytes. The bound is 4 × CheckpointBytes; computed
// in uint64 it wrapped (4 × 2^62 is 0), so after one failed checkpoint
// every write was refused with ErrCheckpointFailing although the log had
// grown by a few hundred bytes. A huge CheckpointBytes means "practically
// never by size": the bound must saturate, not wrap.
func TestLogBoundHugeCheckpointBytes(t *testing.T) {
	for _, per := range []int64{1 << 62, 1<<62 + 1, math.MaxInt64} {
		t.Run("", func(t *testing.T) {
			ctx := context.Background()
			toggle := errorfs.NewToggle(errorfs.OnPath("checkpoints", errorfs.OnKind(errorfs.OpCreate, errorfs.ErrInjected)))
			fs := errorfs.Wrap(vfs.NewMem(), toggle)
			e := openT(t, "/db", &Options{FS: fs, CheckpointBytes: per})
			defer e.Close()
			ids := mustCreate(t, e, 1, 64)
			toggle.On()
			if _, err := e.Checkpoint(ctx); !errors.Is(err, errorfs.ErrInjected) {
				t.Fatalf("Checkpoint with creates failing: %v", err)
			}
			toggle.Off()
			if _, err := e.Commit(ctx, []Delta{w(ids[0], 0, "after one failure")}); err != nil {
				t.Fatalf("CheckpointBytes %d: a commit after one failed checkpoint: %v", per, err)
			}
		})
	}
}

// TestLogBoundErrorNamesTheBound checks the refusal itself still happens
// (the control for the test above): with a small CheckpointBytes, a failed
// checkpoint and a log grown past 4 × CheckpointBytes, writes are refused
// with ErrCheckpointFailing wrapping the checkpoint's own error.
func TestLogBoundErrorNamesTheBound(t *testing.T) {
	ctx := context.Background()
	toggle := errorfs.NewToggle(errorfs.OnPath("checkpoints", errorfs.OnKind(errorfs.OpCreate, errorfs.ErrInjected)))
	fs := errorfs.Wrap(vfs.NewMem(), toggle)
	e := openT(t, "/db", &Options{FS: fs, CheckpointBytes: 1 << 10})
	defer e.Close()
	ids := mustCreate(t, e, 1, 1024)
	toggle.On()
	if _, err := e.Checkpoint(ctx); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Checkpoint with creates failing: %v", err)
	}
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = e.Commit(ctx, []Delta{w(ids[0], 0, strings.Repeat("x", 512))})
	}
	if !errors.Is(err, ErrCheckpointFailing) || !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("writes past the bound: %v, want ErrCheckpointFailing wrapping the injected error", err)
	}
}
