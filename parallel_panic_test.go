package mmsb

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/invariants"
)

// workerPanicBatch is a batch large enough for the parallel jobs: four
// check+encode chunks, and every apply shard of two workers written.
func workerPanicBatch(ids []PageID, b byte) []Delta {
	ds := make([]Delta, 4*chunkDeltas)
	for i := range ds {
		ds[i] = w(ids[i%len(ids)], i%8, string([]byte{b}))
	}
	return ds
}

// awaitFlag polls f until it is set, for a generous deadline (the machine
// may be loaded), and reports whether it was.
func awaitFlag(f *atomic.Bool) bool {
	deadline := time.Now().Add(20 * time.Second)
	for !f.Load() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// TestWorkerPanicFailsBus: a panic out of a work unit on an apply helper
// goroutine (a defect of the bus's own code, made here by a test hook) in
// each of the three jobs: the sharded apply and the check+encode of a
// batch that is not pipelined (a Replicator rules pipelining out), and
// the pipelined apply's drain. Before, nobody recovered the helper's
// panic and the process ended ("panic: worker bug in ..."). Now the
// commit that ran the job panics as if its own unit had (the bus fails
// with ErrFailed naming the panic, the lock is released), or, for a
// drain, which runs after its commit returned, the next commit returns
// that ErrFailed; later calls answer at once and Close ends
// (openMemBounded). The drain's panic on a reader's goroutine (the
// helpers stopped) fails the drain the same way, instead of leaving the
// reader's shared lock held for ever.
func TestWorkerPanicFailsBus(t *testing.T) {
	for _, tc := range []struct {
		name      string
		job       jobKind
		reader    bool // the drain runs on a reader's goroutine
		committer bool // the committer's own unit panics
	}{
		{"checkEncode", jobCheckEncode, false, false},
		{"apply", jobApply, false, false},
		{"drain", jobApplyWrites, false, false},
		{"drainOnReader", jobApplyWrites, true, false},
		{"checkEncodeOnCommitter", jobCheckEncode, false, true},
		{"applyOnCommitter", jobApply, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.job == jobApplyWrites && invariants.Enabled {
				t.Skip("invariants builds pipeline nothing (canPipeline)")
			}
			o := &Options{Workers: 2}
			if tc.job != jobApplyWrites {
				o.Replicator = &fakeReplicator{}
			}
			e := openMemBounded(t, o)
			ids := mustCreate(t, e, 64, 8)
			bug := fmt.Sprintf("worker bug in job %d", tc.job)
			var panicked atomic.Bool
			e.mu.Lock()
			e.applier.unitHook = func(job jobKind, onHelper bool) {
				if job != tc.job {
					return
				}
				if onHelper == (!tc.reader && !tc.committer) {
					panicked.Store(true)
					panic(bug)
				}
				if !tc.reader && !tc.committer {
					// Hold the committer in its first unit until a helper
					// has claimed one of the others.
					_ = awaitFlag(&panicked)
				}
			}
			if tc.reader {
				e.applier.close() // the helpers end: readers run the drain
			}
			e.mu.Unlock()

			var err error
			v := boundedCall(t, "Commit", func() { _, err = e.Commit(ctx, workerPanicBatch(ids, 1)) })
			switch {
			case tc.job != jobApplyWrites:
				if !panicked.Load() {
					t.Fatal("no helper ran a unit of the job within 20 s")
				}
				if v == nil || !strings.Contains(fmt.Sprint(v), bug) {
					t.Fatalf("Commit whose helper panicked: panic %v, err %v; want the panic naming %q", v, err, bug)
				}
			case v != nil || err != nil:
				t.Fatalf("pipelined Commit: panic %v, err %v; want it committed", v, err)
			case tc.reader:
				// It answers with the failure: the page may hold part
				// of the batch.
				if v := boundedCall(t, "ReadPage", func() { _, _, err = e.ReadPage(ids[0], nil) }); v != nil || !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), bug) {
					t.Fatalf("ReadPage running the drain that panicked: panic %v, err %v; want ErrFailed naming %q", v, err, bug)
				}
			default:
				if !awaitFlag(&panicked) {
					t.Fatal("no helper ran the drain within 20 s")
				}
				// A reader sees the drain through (its unit counted done,
				// after the failure is recorded): the commit below then
				// finds it failed rather than racing with its recovery.
				if v := boundedCall(t, "ReadPage", func() { _, _, err = e.ReadPage(ids[0], nil) }); v != nil || !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), bug) {
					t.Fatalf("ReadPage after the drain panicked: panic %v, err %v; want ErrFailed naming %q", v, err, bug)
				}
			}
			if tc.job == jobApplyWrites {
				if v := boundedCall(t, "Commit", func() { _, err = e.Commit(ctx, workerPanicBatch(ids, 2)) }); v != nil {
					t.Fatalf("Commit after the drain panicked: panic %v; want ErrFailed", v)
				}
				if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), bug) {
					t.Fatalf("Commit after the drain panicked = %v; want ErrFailed naming %q", err, bug)
				}
			}
			// The calls after answer, and run nothing of the job that
			// panicked (the hook would panic again).
			if v := boundedCall(t, "the calls after", func() {
				if err := e.Err(); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), bug) {
					t.Errorf("Err() = %v; want ErrFailed naming %q", err, bug)
				}
				if _, err := e.Commit(ctx, workerPanicBatch(ids, 3)); !errors.Is(err, ErrFailed) {
					t.Errorf("Commit after = %v; want ErrFailed", err)
				}
				if _, _, err := e.ReadPage(ids[0], nil); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), bug) {
					t.Errorf("ReadPage after = %v; want ErrFailed naming %q (the page may hold part of a batch)", err, bug)
				}
			}); v != nil {
				t.Fatalf("a call after the panic panicked: %v", v)
			}
			e.mu.Lock()
			e.applier.unitHook = nil // Close may settle a drain
			e.mu.Unlock()
			runtime.KeepAlive(e)
		})
	}
}
