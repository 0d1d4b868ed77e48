package mmsb

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
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

// TestCheckpointContextEndsWaitForRunning: a Checkpoint called while
// another runs (an automatic one, paced, can take minutes) waits for it
// only as long as its context lasts. It waited for the running one
// whatever its context said, then took a snapshot and an fsync of the log
// before it looked at the context again: a server request whose deadline
// had passed stayed blocked for the whole of the other checkpoint. The
// running checkpoint is not disturbed, and the next one still runs.
func TestCheckpointContextEndsWaitForRunning(t *testing.T) {
	stuck, release := make(chan struct{}), make(chan struct{})
	block := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpWrite {
			select {
			case <-stuck:
			default:
				close(stuck)
				<-release
			}
		}
		return nil
	})
	e := openT(t, "/db", &Options{FS: errorfs.Wrap(vfs.NewMem(), errorfs.OnPath(".ckpt.tmp", block)), CheckpointBytes: -1})
	defer e.Close()
	if _, err := e.CreatePage(ctx, PageSpec{Size: 64}); err != nil {
		t.Fatal(err)
	}
	running := make(chan error, 1)
	go func() { _, err := e.Checkpoint(ctx); running <- err }()
	<-stuck // the first checkpoint holds ckptMu, blocked in its first write
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	base, cancel := context.WithCancel(context.Background())
	c := &errSeenCtx{Context: base, seen: make(chan struct{})}
	waiting := make(chan error, 1)
	go func() { _, err := e.Checkpoint(c); waiting <- err }()
	<-c.seen // past Checkpoint's first look at ctx: on to the lock
	cancel()
	select {
	case err := <-waiting:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Checkpoint cancelled while another ran = %v, want context.Canceled", err)
		}
	case <-time.After(livenessBound):
		t.Fatal("Checkpoint whose context ended still waits for the running checkpoint")
	}
	close(release)
	if err := <-running; err != nil {
		t.Fatalf("the running checkpoint: %v", err)
	}
	if st := e.Stats(); st.Checkpoints != 1 || st.CheckpointFailures != 0 {
		t.Fatalf("after both: %d checkpoints, %d failures; want 1, 0", st.Checkpoints, st.CheckpointFailures)
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatalf("the next checkpoint: %v", err)
	}
}

// errSeenCtx closes seen the first time its Err is called.
type errSeenCtx struct {
	context.Context
	once sync.Once
	seen chan struct{}
}

func (c *errSeenCtx) Err() error {
	c.once.Do(func() { close(c.seen) })
	return c.Context.Err()
}
