package harness

import "testing"

func tinyTick() tickConfig {
	return tickConfig{ticks: 10, deltasPerTick: 500, pages: 2000, derived: 50, pageSize: 1024, seed: 2}
}

func TestTickQuick(t *testing.T) {
	env := testEnv(t, "tick", nil)
	var r Result
	err := tickBench(bg, env, &r, tinyTick())
	requirePass(t, &r, err)
	if got := len(r.Series["tick_ms"]); got != 10 {
		t.Fatalf("%d latency samples, want 10", got)
	}
	if r.Metrics["recomputed_per_tick"] < 40 {
		t.Fatalf("derived pages not recomputed each tick: %v", r.Metrics)
	}
}

// TestTickNegativeNoPropagation: deferred propagation never flushed leaves
// derived pages stale; the end check and the sampled invariant must see it.
func TestTickNegativeNoPropagation(t *testing.T) {
	env := testEnv(t, "tick", nil)
	cfg := tinyTick()
	cfg.deferred = true
	var r Result
	err := tickBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "derived_consistent")
	requireFail(t, &r, err, "invariants_sampled")
}
