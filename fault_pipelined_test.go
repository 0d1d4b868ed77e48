package mmsb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestLogFaultDuringPipelinedApply: a log write or fsync that fails while
// large batches go through the parallel check and the pipelined apply
// (two workers) fails the bus cleanly, in every sync mode: the failing
// commit returns ErrFailed, a reader running beside the commits never
// sees part of a batch, every later write is refused, and a reopen finds
// every batch reported committed and no part of any other.
func TestLogFaultDuringPipelinedApply(t *testing.T) {
	for _, mode := range []SyncMode{SyncGroup, SyncAlways, SyncNone} {
		for _, kind := range []errorfs.OpKind{errorfs.OpWrite, errorfs.OpSync} {
			if mode == SyncNone && kind == errorfs.OpSync {
				continue // no commit fsyncs under SyncNone
			}
			t.Run(fmt.Sprintf("%s/%s", mode, kind), func(t *testing.T) { testLogFaultDuringPipelinedApply(t, mode, kind) })
		}
	}
}

// The workload of testLogFaultDuringPipelinedApply: pfPages pages of
// pfPerPage 8-byte words; batch s writes s into every word, one delta a
// word, the pages interleaved, so that a page whose words disagree holds
// part of a batch.
const (
	pfPages   = 4
	pfPerPage = 2 * parallelMin / pfPages // two pipelined-size batches' worth of deltas
)

func pfBatch(ids []PageID, seq uint64) []delta.Delta {
	ds := make([]delta.Delta, 0, pfPages*pfPerPage)
	for k := 0; k < pfPerPage; k++ {
		for p := range ids {
			b := make([]byte, 8)
			binary.LittleEndian.PutUint64(b, seq)
			ds = append(ds, delta.Delta{Page: ids[p], Runs: []delta.Run{{Offset: uint32(8 * k), Data: b}}})
		}
	}
	return ds
}

// pfPageSeq returns the batch page b holds, or an error if its words
// disagree.
func pfPageSeq(b []byte) (uint64, error) {
	seq := binary.LittleEndian.Uint64(b)
	for k := 8; k+8 <= len(b); k += 8 {
		if got := binary.LittleEndian.Uint64(b[k:]); got != seq {
			return 0, fmt.Errorf("word %d holds batch %d, word 0 batch %d: part of a batch", k/8, got, seq)
		}
	}
	return seq, nil
}

func testLogFaultDuringPipelinedApply(t *testing.T, mode SyncMode, kind errorfs.OpKind) {
	mem := vfs.NewMem()
	tog := errorfs.NewToggle(errorfs.OnPath("wal", errorfs.OnKind(kind, errorfs.ErrInjected)))
	o := &Options{FS: errorfs.Wrap(mem, tog), Sync: mode, Workers: 2, CheckpointBytes: -1}
	e := openT(t, "/db", o)
	specs := make([]PageSpec, pfPages)
	for i := range specs {
		specs[i] = PageSpec{Size: 8 * pfPerPage}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// A reader beside the commits: every page it reads holds one batch.
	var stop atomic.Bool
	var wg sync.WaitGroup
	readErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var buf []byte
		for !stop.Load() {
			for _, id := range ids {
				b, _, err := e.ReadPage(id, buf[:0])
				if err == nil {
					_, err = pfPageSeq(b)
				}
				if err != nil {
					select {
					case readErr <- fmt.Errorf("page %d: %w", id, err):
					default:
					}
					return
				}
				buf = b
			}
		}
	}()

	const failAt = 12 // the batch during which the log fails
	var acked uint64
	var failed bool
	for seq := uint64(1); seq <= failAt+2; seq++ {
		if seq == failAt {
			e.mu.RLock()
			pushed := e.applier.pushed.Load()
			e.mu.RUnlock()
			if pushed == 0 && !invariants.Enabled { // invariant builds pipeline nothing
				t.Fatal("no batch took the pipelined apply: the test no longer covers it")
			}
			tog.On()
		}
		info, err := e.Commit(ctx, pfBatch(ids, seq))
		if err == nil {
			if seq >= failAt {
				t.Fatalf("batch %d committed after the log failed", seq)
			}
			acked = seq
			continue
		}
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("batch %d: %v, want ErrFailed", seq, err)
		}
		if !failed && seq == failAt && !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("batch %d: %v, want it to wrap the injected fault", seq, err)
		}
		if failed && info.FirstLSN != 0 {
			t.Fatalf("batch %d after the failure: refused with CommitInfo %+v, want none", seq, info)
		}
		failed = true
	}
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-readErr:
		t.Fatal(err)
	default:
	}
	if !failed {
		t.Fatal("no commit failed")
	}
	// Reads still work on the failed bus, and see whole batches.
	var live uint64
	for i, id := range ids {
		b, _, err := e.ReadPage(id, nil)
		if err != nil {
			t.Fatalf("ReadPage on the failed bus: %v", err)
		}
		seq, err := pfPageSeq(b)
		if err != nil {
			t.Fatalf("failed bus, page %d: %v", id, err)
		}
		if i == 0 {
			live = seq
		} else if seq != live {
			t.Fatalf("failed bus: page %d holds batch %d, page %d batch %d", id, seq, ids[0], live)
		}
	}
	if live < acked || live > failAt {
		t.Fatalf("failed bus holds batch %d: %d was the last acknowledged, %d failed", live, acked, failAt)
	}
	_ = e.Close()
	tog.Off()

	e = openT(t, "/db", &Options{FS: mem, CheckpointBytes: -1})
	defer e.Close()
	for _, id := range ids {
		b, _, err := e.ReadPage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := pfPageSeq(b)
		if err != nil {
			t.Fatalf("reopened, page %d: %v", id, err)
		}
		if seq < acked || seq > failAt {
			t.Fatalf("reopened, page %d holds batch %d: %d was the last acknowledged, %d failed", id, seq, acked, failAt)
		}
	}
}

// TestLogFaultDuringCheckpointCopyOnWrite: the log's fsync fails for a
// batch committed while a checkpoint copies pages (two workers: the
// batch, large, is applied by them after copy on write kept what it
// overwrites). The commit returns ErrFailed and the bus refuses writes;
// the checkpoint still holds exactly the state at its LSN (the batch
// rolled back out of it); a reader sees the batch whole or not at all;
// and a reopen finds every batch reported committed.
func TestLogFaultDuringCheckpointCopyOnWrite(t *testing.T) {
	mem := vfs.NewMem()
	tog := errorfs.NewToggle(errorfs.OnPath("wal", errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected)))
	o := &Options{FS: errorfs.Wrap(mem, tog), Workers: 2, CheckpointBytes: -1}
	e := openT(t, "/db", o)
	specs := make([]PageSpec, 3*ckptRangePages) // three ranges
	for i := range specs {
		specs[i] = PageSpec{Size: 64}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	batch := func(seq uint64) []delta.Delta {
		// Every page of the second range (not yet written when the hook
		// runs, after the first range's first step) gets seq in its
		// first word: 4,096 deltas, applied by the workers.
		ds := make([]delta.Delta, ckptRangePages)
		for i := range ds {
			b := make([]byte, 8)
			binary.LittleEndian.PutUint64(b, seq)
			ds[i] = delta.Delta{Page: ids[ckptRangePages+i], Runs: []delta.Run{{Data: b}}}
		}
		return ds
	}
	if _, err := e.Commit(ctx, batch(1)); err != nil {
		t.Fatal(err)
	}
	var hookErr, failErr error
	calls := 0
	e.ckptAfterStep1 = func() {
		if calls++; calls != 1 {
			return
		}
		if _, err := e.Commit(ctx, batch(2)); err != nil { // acknowledged: must survive
			hookErr = err
			return
		}
		tog.On()
		_, failErr = e.Commit(ctx, batch(3))
		tog.Off()
	}
	info, err := e.Checkpoint(ctx)
	e.ckptAfterStep1 = nil
	if err != nil {
		t.Fatalf("the checkpoint beside the failed commit: %v", err)
	}
	if hookErr != nil {
		t.Fatal(hookErr)
	}
	if !errors.Is(failErr, ErrFailed) || !errors.Is(failErr, errorfs.ErrInjected) {
		t.Fatalf("the commit whose fsync failed: %v, want ErrFailed wrapping the injected fault", failErr)
	}
	if _, err := e.Commit(ctx, batch(4)); !errors.Is(err, ErrFailed) {
		t.Fatalf("a commit on the failed bus: %v, want ErrFailed", err)
	}
	// The failed bus reads whole batches (3 was applied before its fsync).
	for _, id := range ids[ckptRangePages : 2*ckptRangePages] {
		b, _, err := e.ReadPage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.LittleEndian.Uint64(b); got != 3 {
			t.Fatalf("failed bus: page %d holds batch %d, want 3 (applied, then its fsync failed)", id, got)
		}
	}
	// The checkpoint is the state at its LSN: batch 1, no later one.
	fromCkpt := newDetached(nil, false)
	defer fromCkpt.Close()
	if err := fromCkpt.loadCheckpointFrom(mem, info.Path); err != nil {
		t.Fatal(err)
	}
	replayed, err := Replay(ctx, "/db", ReplayTarget{ToLSN: info.LSN, FromEmpty: true}, &Options{FS: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer replayed.Close()
	if rep := compareStates(replayed, fromCkpt); !rep.Equal() {
		t.Fatalf("checkpoint differs from the state at its LSN %d: %v", info.LSN, rep.Differences)
	}
	b, _, err := fromCkpt.ReadPage(ids[ckptRangePages], nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint64(b); got != 1 {
		t.Fatalf("the checkpoint holds batch %d, want 1", got)
	}
	_ = e.Close()

	e = openT(t, "/db", &Options{FS: mem, CheckpointBytes: -1})
	defer e.Close()
	for _, id := range ids[ckptRangePages : 2*ckptRangePages] {
		b, _, err := e.ReadPage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.LittleEndian.Uint64(b); got != 2 && got != 3 {
			t.Fatalf("reopened: page %d holds batch %d, want 2 (the last acknowledged) or 3", id, got)
		}
	}
}
