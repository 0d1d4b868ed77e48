package mmsb

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestDrainFailedBesideCommitSaysLogged: a pipelined apply's drain that
// fails (a panic in it, made by a test hook) after a Commit's own check
// for a failed drain, while that commit writes its record (sync none
// writes it in the call), is found by the commit's settle after the
// append: the batch is in the log. The commit returns ErrFailed saying so,
// with a CommitInfo naming the batch, and the reopened bus holds exactly
// that. It returned ErrFailed with a zero CommitInfo, which says the batch
// was not applied and is absent after a restart: a caller that retried it
// applied it twice.
func TestDrainFailedBesideCommitSaysLogged(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariants builds pipeline nothing (canPipeline)")
	}
	var armed, held atomic.Bool
	release := make(chan struct{})
	var e *Bus
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpWrite && strings.Contains(op.Path, "/wal/") && armed.CompareAndSwap(true, false) {
			// The commit's record is being written: the held drain
			// panics now, and fails before the write goes on.
			close(release)
			if !awaitFlag(&e.applier.failed) {
				t.Error("the released drain did not fail within 20 s")
			}
		}
		return nil
	}))
	o := &Options{FS: fs, Workers: 2, Sync: SyncNone, CheckpointBytes: -1, Clock: testClock()}
	var err error
	e, err = Open("/db", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boundedCall(t, "Close", func() { _ = e.Close() }) })
	ids := mustCreate(t, e, 64, 8)
	e.mu.Lock()
	e.applier.holdApplyWrites = func([]byte) {
		if !held.Swap(true) {
			<-release
			panic("drain bug")
		}
	}
	e.mu.Unlock()
	if _, err := e.Commit(ctx, workerPanicBatch(ids, 1)); err != nil {
		t.Fatalf("pipelined Commit: %v", err)
	}
	if !awaitFlag(&held) {
		t.Fatal("no drain ran within 20 s")
	}
	armed.Store(true)
	var info CommitInfo
	var cerr error
	if v := boundedCall(t, "Commit", func() { info, cerr = e.Commit(ctx, workerPanicBatch(ids, 2)) }); v != nil {
		t.Fatalf("Commit beside the failing drain panicked: %v", v)
	}
	if armed.Load() {
		t.Fatal("the commit wrote no record: the test's window was not reached")
	}
	if !errors.Is(cerr, ErrFailed) || !strings.Contains(cerr.Error(), "drain bug") {
		t.Fatalf("Commit beside the failing drain = %v; want ErrFailed naming the panic", cerr)
	}
	if info.LastLSN == 0 || !strings.Contains(cerr.Error(), "logged") {
		t.Errorf("Commit beside the failing drain = %+v, %v; want the logged batch named (CommitInfo and error)", info, cerr)
	}
	if got := e.LastLSN(); info.LastLSN != 0 && got != info.LastLSN {
		t.Errorf("failed bus's LastLSN = %d; want %d, the logged batch's", got, info.LastLSN)
	}
	if info.LastLSN != 0 {
		if err := e.WaitDurable(ctx, info.LastLSN); err != nil {
			t.Errorf("WaitDurable(%d) of the logged batch = %v", info.LastLSN, err)
		}
	}
	if v := boundedCall(t, "Close", func() { _ = e.Close() }); v != nil {
		t.Fatalf("Close panicked: %v", v)
	}
	o.Clock = testClock()
	e2, err := Open("/db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := e2.LastLSN(); got == 0 || got != info.LastLSN {
		t.Fatalf("reopened bus at LSN %d; the commit beside the failed drain returned %+v, %v: a batch in the log must be named by the error", got, info, cerr)
	}
}

// TestDrainFailedBeforePushSaysLogged: as TestDrainFailedBesideCommitSaysLogged,
// with the drain failing later: after the commit's batch was logged and
// found room in the pipeline (canQueue), before it is pushed. The push
// finds the drain failed (applyPipelined); the commit returns ErrFailed
// saying the batch was logged, with a CommitInfo naming it, LastLSN and
// WaitDurable count it, and the reopened bus holds exactly that.
func TestDrainFailedBeforePushSaysLogged(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariants builds pipeline nothing (canPipeline)")
	}
	fs := vfs.NewMem()
	o := &Options{FS: fs, Workers: 2, Sync: SyncNone, CheckpointBytes: -1, Clock: testClock()}
	e, err := Open("/db", o)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var once sync.Once
	letGo := func() { once.Do(func() { close(release) }) }
	t.Cleanup(func() {
		pipelinedPushHook = nil
		letGo()
		boundedCall(t, "Close", func() { _ = e.Close() })
	})
	ids := mustCreate(t, e, 64, 8)
	var held, reached atomic.Bool
	e.mu.Lock()
	e.applier.holdApplyWrites = func([]byte) {
		if !held.Swap(true) {
			<-release
			panic("drain bug")
		}
	}
	e.mu.Unlock()
	if _, err := e.Commit(ctx, workerPanicBatch(ids, 1)); err != nil {
		t.Fatalf("pipelined Commit: %v", err)
	}
	if !awaitFlag(&held) {
		t.Fatal("no drain ran within 20 s")
	}
	var idle atomic.Bool
	pipelinedPushHook = func() {
		if reached.Swap(true) {
			return
		}
		letGo()
		if !awaitFlag(&e.applier.failed) {
			t.Error("the released drain did not fail within 20 s")
		}
		// The failed drain then marks itself ended (active false).
		deadline := time.Now().Add(20 * time.Second)
		for e.applier.active.Load() && time.Now().Before(deadline) {
			runtime.Gosched()
		}
		idle.Store(!e.applier.active.Load())
	}
	// Should the commit settle instead of queueing, the drain it waits
	// for is let go rather than held for ever.
	timer := time.AfterFunc(20*time.Second, letGo)
	defer timer.Stop()
	var info CommitInfo
	var cerr error
	if v := boundedCall(t, "Commit", func() { info, cerr = e.Commit(ctx, workerPanicBatch(ids, 2)) }); v != nil {
		t.Fatalf("Commit beside the failing drain panicked: %v", v)
	}
	if !reached.Load() || !idle.Load() {
		t.Fatalf("the commit did not reach its push with the drain failed and ended (reached %v, ended %v): the test's window was not reached", reached.Load(), idle.Load())
	}
	if !errors.Is(cerr, ErrFailed) || !strings.Contains(cerr.Error(), "drain bug") || !strings.Contains(cerr.Error(), "logged") || info.LastLSN == 0 {
		t.Fatalf("Commit whose push found the drain failed = %+v, %v; want ErrFailed naming the panic and the logged batch", info, cerr)
	}
	if got := e.LastLSN(); got != info.LastLSN {
		t.Errorf("failed bus's LastLSN = %d; want %d, the logged batch's", got, info.LastLSN)
	}
	if err := e.WaitDurable(ctx, info.LastLSN); err != nil {
		t.Errorf("WaitDurable(%d) of the logged batch = %v", info.LastLSN, err)
	}
	if v := boundedCall(t, "Close", func() { _ = e.Close() }); v != nil {
		t.Fatalf("Close panicked: %v", v)
	}
	o.Clock = testClock()
	e2, err := Open("/db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := e2.LastLSN(); got != info.LastLSN {
		t.Fatalf("reopened bus at LSN %d; the commit whose push found the drain failed returned %+v, %v", got, info, cerr)
	}
}
