package mmsb

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestDrainFailedNextCommitNotLogged: once a pipelined apply's drain has
// failed (here a panic in it, made by a test hook; an undecodable record
// the same), the next Commit returns ErrFailed and logs nothing. It was
// checked, encoded and appended to the log first, and only then did the
// settle find the failure: the commit reported ErrFailed for a batch that
// the reopened bus held.
func TestDrainFailedNextCommitNotLogged(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariants builds pipeline nothing (canPipeline)")
	}
	fs := vfs.NewMem()
	o := &Options{FS: fs, Workers: 2, CheckpointBytes: -1, Clock: testClock()}
	e, err := Open("/db", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boundedCall(t, "Close", func() { _ = e.Close() }) })
	ids := mustCreate(t, e, 64, 8)
	var panicked atomic.Bool
	e.mu.Lock()
	e.applier.unitHook = func(job jobKind, onHelper bool) {
		if job == jobApplyWrites && !panicked.Swap(true) {
			panic("drain bug")
		}
	}
	e.mu.Unlock()
	info, err := e.Commit(ctx, workerPanicBatch(ids, 1))
	if err != nil {
		t.Fatalf("pipelined Commit: %v", err)
	}
	if !awaitFlag(&panicked) {
		t.Fatal("no drain ran within 20 s")
	}
	// A reader sees the drain through: its failure is recorded, and
	// returned rather than the page's bytes.
	if _, _, err := e.ReadPage(ids[0], nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("ReadPage after the drain failed = %v; want ErrFailed", err)
	}
	if _, err := e.Commit(ctx, workerPanicBatch(ids, 2)); !errors.Is(err, ErrFailed) {
		t.Fatalf("Commit after the drain failed = %v; want ErrFailed", err)
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
		t.Fatalf("reopened bus at LSN %d; want %d, the last batch acknowledged (the refused one was logged)", got, info.LastLSN)
	}
}

// TestDrainFailedErrReports: once a pipelined apply's drain has failed
// (a panic in it), Err reports the failure (ErrFailed naming the panic)
// without a write coming first: it sees the drain through, as readers
// do, and said nil, though the next write was refused.
func TestDrainFailedErrReports(t *testing.T) {
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
	var err error
	if v := boundedCall(t, "Err", func() { err = e.Err() }); v != nil {
		t.Fatalf("Err panicked: %v", v)
	}
	if !panicked.Load() || !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "drain bug") {
		t.Fatalf("Err() after the drain panicked (%v) = %v; want ErrFailed naming the panic", panicked.Load(), err)
	}
}
