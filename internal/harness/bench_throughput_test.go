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
