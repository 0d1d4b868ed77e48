package mmsb

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCheckpointStepPanicIsFailure: a panic out of the bus's own
// checkpoint code (a defect, made here by a test hook) where the
// checkpoint holds the bus's lock: exclusively as it takes the snapshot,
// shared in each range's first and third steps; shared as it reads the
// sizes of its scratch, exclusively as it turns copy on write off (these
// two left the lock held until 2026-12-07). Before, the panic left
// the lock held (every later commit, and Close, waited for ever), copy on
// write stayed on, and on the automatic checkpoint's goroutine the
// process ended. Now the checkpoint fails as one whose file panicked
// does: its error names the panic, one failure is counted, no temporary
// file is left, the bus is not failed (no page changed), and commits and
// the next checkpoint go on.
func TestCheckpointStepPanicIsFailure(t *testing.T) {
	for _, step := range []string{"sizes", "snapshot", "step1", "step3", "cow-off"} {
		for _, auto := range []bool{false, true} {
			name := step
			if auto {
				name += "Auto"
			}
			t.Run(name, func(t *testing.T) {
				o := &Options{FS: vfs.NewMem(), CheckpointBytes: -1, Clock: testClock()}
				if auto {
					o.CheckpointBytes = 1 << 10
				}
				e, err := Open("/db", o)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { boundedCall(t, "Close", func() { _ = e.Close() }) })
				ids := mustCreate(t, e, 2, 64)
				bug := "checkpoint bug in " + step
				var armed atomic.Bool
				armed.Store(true)
				e.mu.Lock()
				e.ckptLockedHook = func(s string) {
					if s == step && armed.Load() {
						panic(bug)
					}
				}
				e.mu.Unlock()
				ctx := context.Background()
				if auto {
					// Commits until one automatic checkpoint has failed (only
					// a commit starts one, and a failure delays the next).
					deadline := time.Now().Add(20 * time.Second)
					for n, _ := e.CheckpointFailures(); n == 0; n, _ = e.CheckpointFailures() {
						if time.Now().After(deadline) {
							t.Fatal("no automatic checkpoint failed in 20 s")
						}
						if p := boundedCall(t, "Commit", func() { _, err = e.Commit(ctx, []Delta{w(ids[0], 0, strings.Repeat("x", 64))}) }); p != nil || err != nil {
							t.Fatalf("commit: panic %v, err %v", p, err)
						}
						time.Sleep(time.Millisecond)
					}
					for e.CheckpointRunning() {
						if time.Now().After(deadline) {
							t.Fatal("the failed automatic checkpoint still runs after 20 s")
						}
						time.Sleep(time.Millisecond)
					}
				} else {
					if p := boundedCall(t, "Checkpoint", func() { _, err = e.Checkpoint(ctx) }); p != nil {
						t.Fatalf("Checkpoint panicked: %v", p)
					}
					if err == nil || !strings.Contains(err.Error(), bug) {
						t.Fatalf("Checkpoint = %v; want the failure naming %q", err, bug)
					}
				}
				armed.Store(false)
				if n, err := e.CheckpointFailures(); n != 1 || err == nil || !strings.Contains(err.Error(), bug) {
					t.Fatalf("CheckpointFailures = %d, %v; want 1 naming %q", n, err, bug)
				}
				if p := boundedCall(t, "the calls after", func() {
					if err := e.Err(); err != nil {
						t.Errorf("Err() = %v; want nil: a checkpoint changes no page", err)
					}
					e.mu.RLock()
					cow := e.cow
					e.mu.RUnlock()
					if cow != nil {
						t.Error("copy on write is still on after the failed checkpoint")
					}
					names, err := e.fs.List(e.ckptDir())
					if err != nil {
						t.Error(err)
					}
					for _, name := range names {
						if checkpoint.IsTempName(name) {
							t.Errorf("the failed checkpoint left %s in %v", name, names)
						}
					}
					if _, err := e.Commit(ctx, []Delta{w(ids[1], 0, "after")}); err != nil {
						t.Errorf("a commit after the failed checkpoint: %v", err)
					}
					if _, err := e.Checkpoint(ctx); err != nil {
						t.Errorf("a checkpoint after the failed one: %v", err)
					}
				}); p != nil {
					t.Fatalf("a call after the failed checkpoint panicked: %v", p)
				}
			})
		}
	}
}
