package mmsb

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestDrainFailedReadsRefused: once a pipelined apply's drain has failed
// (a panic in it, made by a test hook), its batch may be partly applied,
// and a batch pushed behind it not applied at all. A read of page bytes
// that sees the drain through returns the bus's failure (ErrFailed naming
// the panic), as after a panic under the bus's lock, instead of those
// bytes: until 2026-12-07 ReadPage, StateHash and StatsWithHash answered
// them as success. What the commit stamped (Page: epoch, LSN) still
// answers.
func TestDrainFailedReadsRefused(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariants builds pipeline nothing (canPipeline)")
	}
	e := openMemBounded(t, &Options{Workers: 2})
	ids := mustCreate(t, e, 64, 8)
	var panicked atomic.Bool
	e.mu.Lock()
	e.applier.unitHook = func(job jobKind, onHelper bool) {
		if job == jobApplyWrites && !panicked.Swap(true) {
			panic("drain bug")
		}
	}
	e.mu.Unlock()
	if _, err := e.Commit(ctx, workerPanicBatch(ids, 1)); err != nil {
		t.Fatalf("pipelined Commit: %v", err)
	}
	if !awaitFlag(&panicked) {
		t.Fatal("no drain ran within 20 s")
	}
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "drain bug") {
			t.Errorf("%s after the drain failed = %v; want ErrFailed naming the panic", what, err)
		}
	}
	boundedCall(t, "the reads", func() {
		_, _, err := e.ReadPage(ids[0], nil)
		refused("ReadPage", err)
		_, _, err = e.ReadPageRange(ids[1], 0, 1, nil)
		refused("ReadPageRange", err)
		_, err = e.StateHash()
		refused("StateHash", err)
		_, _, err = e.StatsWithHash()
		refused("StatsWithHash", err)
		if _, err := e.Page(ids[0]); err != nil {
			t.Errorf("Page after the drain failed = %v", err)
		}
		if s := e.Stats(); !s.Failed {
			t.Errorf("Stats().Failed after a read found the failed drain = false")
		}
	})
}

// TestDrainFailedStatsReports: once a pipelined apply's drain has failed
// (a panic in it), Stats reports the bus failed, as Err does, before any
// write or read of page bytes settles the failure: it said Failed false.
func TestDrainFailedStatsReports(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariants builds pipeline nothing (canPipeline)")
	}
	e := openMemBounded(t, &Options{Workers: 2})
	ids := mustCreate(t, e, 64, 8)
	var panicked atomic.Bool
	e.mu.Lock()
	e.applier.unitHook = func(job jobKind, onHelper bool) {
		if job == jobApplyWrites && !panicked.Swap(true) {
			panic("drain bug")
		}
	}
	e.mu.Unlock()
	if _, err := e.Commit(ctx, workerPanicBatch(ids, 1)); err != nil {
		t.Fatalf("pipelined Commit: %v", err)
	}
	var s Stats
	if v := boundedCall(t, "Stats", func() { s = e.Stats() }); v != nil {
		t.Fatalf("Stats panicked: %v", v)
	}
	if !panicked.Load() || !s.Failed {
		t.Fatalf("Stats().Failed after the drain panicked (%v) = %v; want true", panicked.Load(), s.Failed)
	}
	if err := e.Err(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Err() = %v; want ErrFailed", err)
	}
}

// TestDrainFailedAfterLogFailureReadsRefused: a bus failed by a log write
// (the commit of a second batch) while the pipelined apply of the first
// still runs holds whole batches, until that apply fails too (a panic in
// its drain, made by a test hook): the pages may then hold part of the
// first batch. The bus keeps its first failure, the log write's, and
// reads of page bytes return it saying that a pipelined apply failed
// after it: until 2026-12-07 they served the half-applied batch's bytes
// as success, since only the first failure was looked at.
func TestDrainFailedAfterLogFailureReadsRefused(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariants builds pipeline nothing (canPipeline)")
	}
	var armed, held atomic.Bool
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpWrite && strings.Contains(op.Path, "/wal/") && armed.CompareAndSwap(true, false) {
			return errorfs.ErrInjected
		}
		return nil
	}))
	e, err := Open("/db", &Options{FS: fs, Workers: 2, Sync: SyncNone, CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() { close(release) })
		boundedCall(t, "Close", func() { _ = e.Close() })
	})
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
	if info, err := e.Commit(ctx, workerPanicBatch(ids, 2)); !errors.Is(err, errorfs.ErrInjected) || info.LastLSN != 0 {
		t.Fatalf("Commit whose log write fails = %+v, %v; want the injected error, nothing logged", info, err)
	}
	if armed.Load() {
		t.Fatal("the second commit wrote no record: the test's window was not reached")
	}
	once.Do(func() { close(release) })
	if !awaitFlag(&e.applier.failed) {
		t.Fatal("the released drain did not fail within 20 s")
	}
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrFailed) || !errors.Is(err, errorfs.ErrInjected) || !strings.Contains(err.Error(), "pipelined apply failed") {
			t.Errorf("%s after the log write failed and then the drain = %v; want the bus's ErrFailed saying a pipelined apply failed", what, err)
		}
	}
	boundedCall(t, "the reads", func() {
		_, _, err := e.ReadPage(ids[0], nil)
		refused("ReadPage", err)
		_, err = e.StateHash()
		refused("StateHash", err)
	})
}
