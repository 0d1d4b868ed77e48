package harness

import (
	"math"
	"testing"
)

// TestTimingGatesCanFail is the negative control of every timing gate and
// of #10's chain_depth: each benchmark, run small, with one threshold no
// machine can meet, must report that check failed; the same run with a
// threshold every machine meets must report it passed (the control row of
// each gate, so that a gate hard-wired to fail is caught too). Timing
// gates decide only full runs (`mmsb validate` without --quick), so this
// is the only test that sees them fail. No assertion depends on the
// machine's speed: the thresholds are 0 or unbounded.
func TestTimingGatesCanFail(t *testing.T) {
	type run func(t *testing.T, over map[string]float64) *Result
	graph := func(t *testing.T, over map[string]float64) *Result {
		var r Result
		err := graphBench(bg, testEnv(t, "graph", over), &r, graphConfig{pages: 500, large: 2000, degree: 4, seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		return &r
	}
	throughput := func(t *testing.T, over map[string]float64) *Result {
		o := map[string]float64{}
		for k, v := range tinyThroughput {
			o[k] = v
		}
		for k, v := range over {
			o[k] = v
		}
		var r Result
		if err := throughputBench(bg, testEnv(t, "throughput", o), &r, nil); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	tick := func(t *testing.T, over map[string]float64) *Result {
		var r Result
		if err := tickBench(bg, testEnv(t, "tick", over), &r, tinyTick()); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	provenance := func(t *testing.T, over map[string]float64) *Result {
		var r Result
		if err := provenanceBench(bg, testEnv(t, "provenance", over), &r, tinyProvenance()); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	inf := math.MaxFloat64
	for _, tc := range []struct {
		check     string
		bench     run
		threshold string
		never     float64 // no machine meets it
		always    float64 // every machine meets it
	}{
		{"validation_ms_per_page", graph, "max_validation_ms_per_page", 0, inf},
		{"cycle_detect_ms_per_10k", graph, "max_cycle_detect_ms", 0, inf},
		{"single_per_sec", throughput, "min_single_per_sec", inf, 0},
		{"multi_per_sec", throughput, "min_multi_per_sec", inf, 0},
		{"p99_ms", tick, "max_p99_ms", 0, inf},
		{"resolve_ms", provenance, "max_resolve_ms", 0, inf},
		// A semantic check: the chain of 31 hops is not under a bound of 31.
		{"chain_depth", provenance, "max_depth", 31, 32},
	} {
		t.Run(tc.check, func(t *testing.T) {
			if c := checkNamed(t, tc.bench(t, map[string]float64{tc.threshold: tc.never}), tc.check); c.Pass {
				t.Fatalf("%s = %v passed against %s %g: the gate cannot fail", tc.check, c.Value, tc.threshold, tc.never)
			}
			if c := checkNamed(t, tc.bench(t, map[string]float64{tc.threshold: tc.always}), tc.check); !c.Pass {
				t.Fatalf("%s = %v failed against %s %g (control): the gate cannot pass", tc.check, c.Value, tc.threshold, tc.always)
			}
		})
	}
}
