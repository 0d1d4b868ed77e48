package mmsb

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// panicOn returns a filesystem over a new in-memory one whose operations
// of kind panic, while armed is set, on a path that ends with suffix: a
// caller's own vfs.FS with a bug.
func panicOn(armed *atomic.Bool, kind errorfs.OpKind, suffix string) vfs.FS {
	return errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if armed.Load() && op.Kind == kind && strings.HasSuffix(op.Path, suffix) {
			panic("driver bug in " + op.Kind.String())
		}
		return nil
	}))
}

// checkpointPanicAfter checks what a checkpoint whose file panicked must
// leave: copy on write off, one failure counted, no temporary file, and a
// bus that commits and checkpoints once the file works again.
func checkpointPanicAfter(t *testing.T, e *Bus, armed *atomic.Bool, id PageID) {
	t.Helper()
	ctx := context.Background()
	e.mu.RLock()
	cow := e.cow
	e.mu.RUnlock()
	if cow != nil {
		t.Fatal("copy on write is still on after the failed checkpoint: every later commit pays for it")
	}
	if n, err := e.CheckpointFailures(); n != 1 || !errors.Is(err, checkpoint.ErrFilePanicked) {
		t.Fatalf("CheckpointFailures = %d, %v; want 1, ErrFilePanicked", n, err)
	}
	names, err := e.fs.List(e.ckptDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if checkpoint.IsTempName(name) {
			t.Fatalf("the failed checkpoint left %s in %v", name, names)
		}
	}
	if _, err := e.Commit(ctx, []Delta{w(id, 0, "after")}); err != nil {
		t.Fatalf("a commit after the failed checkpoint: %v", err)
	}
	armed.Store(false)
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatalf("a checkpoint once the file works: %v", err)
	}
}

// TestCheckpointFilePanicIsFailure: a checkpoint file whose Write panics
// (a caller's own vfs.FS) fails the checkpoint as a failed write does. The
// panic went out of Checkpoint to its caller and left copy on write on for
// every later commit.
func TestCheckpointFilePanicIsFailure(t *testing.T) {
	var armed atomic.Bool
	e := openT(t, "/db", &Options{FS: panicOn(&armed, errorfs.OpWrite, ".ckpt.tmp"), CheckpointBytes: -1})
	ids := mustCreate(t, e, 1, 64)
	armed.Store(true)
	var err error
	if p := boundedCall(t, "Checkpoint", func() { _, err = e.Checkpoint(context.Background()) }); p != nil {
		t.Fatalf("Checkpoint panicked: %v", p)
	}
	if !errors.Is(err, checkpoint.ErrFilePanicked) || !strings.Contains(err.Error(), "driver bug in write") {
		t.Fatalf("Checkpoint = %v, want ErrFilePanicked naming the panic", err)
	}
	checkpointPanicAfter(t, e, &armed, ids[0])
}

// TestAutoCheckpointFilePanicIsFailure: the same for an automatic
// checkpoint, whose fsync panics on the checkpoint's own goroutine: the
// panic ended the process.
func TestAutoCheckpointFilePanicIsFailure(t *testing.T) {
	var armed atomic.Bool
	e := openT(t, "/db", &Options{FS: panicOn(&armed, errorfs.OpSync, ".ckpt.tmp"), CheckpointBytes: 1 << 10})
	ids := mustCreate(t, e, 1, 64)
	armed.Store(true)
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	// Commits until one automatic checkpoint has failed, and none after
	// that: only a commit starts one, so no second one runs (or fails)
	// while the test looks.
	for {
		if n, _ := e.CheckpointFailures(); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no automatic checkpoint failed in 20 s")
		}
		if _, err := e.Commit(ctx, []Delta{w(ids[0], 0, strings.Repeat("x", 64))}); err != nil {
			t.Fatalf("commit: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	for e.CheckpointRunning() {
		if time.Now().After(deadline) {
			t.Fatal("the failed automatic checkpoint still runs after 20 s")
		}
		time.Sleep(time.Millisecond)
	}
	checkpointPanicAfter(t, e, &armed, ids[0])
}

// TestRemoveThroughFSPanic: the log's trimming after a checkpoint meets a
// filesystem that panics as it renames a covered segment away: the
// checkpoint reports it (a failed prune, counted) instead of panicking,
// and the next checkpoint trims the log.
func TestRemoveThroughFSPanic(t *testing.T) {
	var armed atomic.Bool
	e := openT(t, "/db", &Options{FS: panicOn(&armed, errorfs.OpRename, ".log"), CheckpointBytes: -1, SegmentBytes: 4 << 10})
	ctx := context.Background()
	ids := mustCreate(t, e, 1, 64)
	grow := func() {
		for range 40 {
			if _, err := e.Commit(ctx, []Delta{w(ids[0], 0, strings.Repeat("y", 64))}); err != nil {
				t.Fatalf("commit: %v", err)
			}
		}
	}
	for range 2 {
		grow()
		if _, err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	grow()
	armed.Store(true)
	var err error
	if p := boundedCall(t, "Checkpoint", func() { _, err = e.Checkpoint(ctx) }); p != nil {
		t.Fatalf("Checkpoint panicked: %v", p)
	}
	if !errors.Is(err, tlog.ErrFilePanicked) {
		t.Fatalf("Checkpoint = %v, want tlog.ErrFilePanicked from the log's trimming", err)
	}
	if n, _ := e.CheckpointFailures(); n != 1 {
		t.Fatalf("CheckpointFailures = %d, want 1", n)
	}
	armed.Store(false)
	grow()
	info, err := e.Checkpoint(ctx)
	if err != nil || info.SegmentsRemoved == 0 {
		t.Fatalf("the next checkpoint: %+v, %v; want segments removed", info, err)
	}
}
