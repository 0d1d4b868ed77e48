package harness

import (
	"context"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// tinyThroughput: sizes that run in a fraction of a second.
var tinyThroughput = map[string]float64{"deltas": 20000, "pages": 1024}

func TestThroughputQuick(t *testing.T) {
	env := testEnv(t, "throughput", tinyThroughput)
	env.Workers = 3
	var r Result
	err := throughputBench(bg, env, &r, nil)
	requirePass(t, &r, err)
	if n := len(r.Series["deltas_per_sec_by_workers"]); n != 3 {
		t.Fatalf("%d worker counts measured, want 3", n)
	}
}

// TestThroughputNegativeDivergentWorkers: the run with 2 apply workers
// reaches a different state than the serial run (one delta more, a
// stand-in for a parallel apply bug); parallel_state_equals_serial must
// fail and name the worker count.
func TestThroughputNegativeDivergentWorkers(t *testing.T) {
	env := testEnv(t, "throughput", tinyThroughput)
	env.Workers = 3
	var r Result
	err := throughputBench(bg, env, &r, func(workers int) func(context.Context, *mmsb.Bus) error {
		if workers != 2 {
			return nil
		}
		return func(ctx context.Context, e *mmsb.Bus) error {
			_, err := e.Commit(ctx, []delta.Delta{{Page: 1, Runs: []delta.Run{{Offset: 0, Data: []byte("diverged")}}}})
			return err
		}
	})
	requireFail(t, &r, err, "parallel_state_equals_serial")
	if c := checkNamed(t, &r, "parallel_state_equals_serial"); c.Value != 1 {
		t.Fatalf("%v worker counts diverged, want 1: %+v", c.Value, c)
	}
}

// TestBatchGen: the generator that feeds #5 is seeded (two generators with
// one seed give the same batches, which is what lets every worker count
// be compared with the serial state), every delta it makes is valid for
// its page, and its bytes are filled for a delta size that is not a
// multiple of 8. Control: another seed gives other batches.
func TestBatchGen(t *testing.T) {
	const batch, pages, pageSize, size = 100, 64, 256, 13
	a, b, other := newBatchGen(7, batch, pages, pageSize, size), newBatchGen(7, batch, pages, pageSize, size), newBatchGen(8, batch, pages, pageSize, size)
	differs := false
	for round := range 5 {
		n := batch - round // a short last batch too
		da, db, do := a.next(n), b.next(n), other.next(n)
		if len(da) != n {
			t.Fatalf("round %d: %d deltas, want %d", round, len(da), n)
		}
		zeros := 0
		for i := range da {
			x, y := da[i], db[i]
			if x.Page != y.Page || x.Runs[0].Offset != y.Runs[0].Offset || string(x.Runs[0].Data) != string(y.Runs[0].Data) {
				t.Fatalf("round %d delta %d: same seed, different deltas", round, i)
			}
			if err := delta.Validate(&x, pageSize); err != nil || x.Page < 1 || x.Page > pages || len(x.Runs[0].Data) != size {
				t.Fatalf("round %d delta %d: page %d, %d bytes: %v", round, i, x.Page, len(x.Runs[0].Data), err)
			}
			for _, c := range x.Runs[0].Data {
				if c == 0 {
					zeros++
				}
			}
			if do[i].Page != x.Page || string(do[i].Runs[0].Data) != string(x.Runs[0].Data) {
				differs = true
			}
		}
		if zeros > n*size/16 { // random bytes are zero 1 time in 256
			t.Fatalf("round %d: %d of %d bytes are zero: not filled", round, zeros, n*size)
		}
	}
	if !differs {
		t.Fatal("seeds 7 and 8 gave the same batches")
	}
}

// TestThroughputNegativeLyingLog: after the serial run, a data byte of its
// last logged delta is changed and the CRC recomputed (a log that does not
// hold what was applied). The live state, and so the state hash every
// worker count is compared with, is untouched; only single_replay_equal may
// fail. The clean run is TestThroughputQuick.
func TestThroughputNegativeLyingLog(t *testing.T) {
	env := testEnv(t, "throughput", tinyThroughput)
	env.Workers = 2
	var r Result
	err := throughputBench(bg, env, &r, func(workers int) func(context.Context, *mmsb.Bus) error {
		if workers != 1 {
			return nil
		}
		return func(ctx context.Context, e *mmsb.Bus) error {
			if err := e.Flush(ctx); err != nil {
				return err
			}
			_, err := CorruptLastClientDelta(e.FS(), e.WALDir(), true)
			return err
		}
	})
	requireOnlyFail(t, &r, err, "single_replay_equal")
}

// TestThroughputNegativeUnloggedDeltas: a commit path that acknowledges
// every batch but logs and applies all of it except its last delta, at
// every worker count (so every run reaches the same state, and its log
// replays to it). The rate counted the deltas the loop handed over, and the
// run passed every check with a rate for work not done; now it is computed
// from the LSNs the log took, and only "committed" fails.
func TestThroughputNegativeUnloggedDeltas(t *testing.T) {
	env := testEnv(t, "throughput", tinyThroughput)
	env.Workers = 2
	var r Result
	err := throughputBenchWith(bg, env, &r, nil, func(int) func(context.Context, *mmsb.Bus, []delta.Delta) error {
		return func(ctx context.Context, e *mmsb.Bus, ds []delta.Delta) error {
			_, err := e.Commit(ctx, ds[:len(ds)-1])
			return err
		}
	})
	requireOnlyFail(t, &r, err, "committed")
	if c := checkNamed(t, &r, "committed"); c.Value != 2 {
		t.Fatalf("%v worker counts short, want 2 (1 and 2): %+v", c.Value, c)
	}
}
