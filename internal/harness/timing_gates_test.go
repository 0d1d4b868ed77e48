package harness

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/validate"
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
	memory := func(t *testing.T, over map[string]float64) *Result {
		env := testEnv(t, "memory", over)
		var r Result
		if err := memoryBench(bg, env, &r, tinyMemory(env)); err != nil {
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
		// It was missing here: only a missing pause histogram had a control.
		{"gc_pause_max", memory, "max_gc_pause_ms", 0, inf},
		// A semantic check: the chain of 31 hops is not under a bound of 31.
		{"chain_depth", provenance, "max_depth", 31, 32},
		// The large graph's detection was timed and printed, not gated.
		{"large_cycle_detect_ms_per_10k", graph, "max_cycle_detect_ms", 0, inf},
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

// TestTimingGatesFailOnSlowSystem: the other half of each timing gate's
// negative control. TestTimingGatesCanFail moves the threshold; here the
// published thresholds stay and the measured system is made slower through
// a seam (a sleep in the timed path: the cycle detector, the validation,
// each commit, each tick, each provenance query), and each gate must fail.
// A sleep only lengthens what is timed, so no assertion depends on the
// machine's speed: each sleep alone is over its gate's bound (20 ms a
// detection of 50 pages is 4,000 ms per 10k pages, over 10; 100 ms of
// validation for 50 pages is 2 ms a page, over 1; 2 ms a batch of 1000
// deltas caps the rate at 500k/s, under 1M/s; 20 ms a tick is over 16 ms,
// 60 ms a provenance query over 50 ms). The threshold every machine meets,
// TestTimingGatesCanFail's control row, shows that no gate is wired to
// fail. gc_pause_max's is TestMemoryNegativeLongPause.
func TestTimingGatesFailOnSlowSystem(t *testing.T) {
	requireFailed := func(t *testing.T, r *Result, names ...string) {
		t.Helper()
		for _, n := range names {
			if c := checkNamed(t, r, n); c.Pass {
				t.Errorf("%s = %v passed (target %s) on a slowed system: the gate cannot fail", n, c.Value, c.Target)
			}
		}
	}
	t.Run("graph", func(t *testing.T) {
		cfg := graphConfig{pages: 50, degree: 4, seed: 5}
		cfg.acyclic = func(g *graph.Graph) error {
			time.Sleep(20 * time.Millisecond)
			return g.CheckAcyclic()
		}
		cfg.mutateView = func(*validate.GraphView) { time.Sleep(100 * time.Millisecond) }
		var r Result
		if err := graphBench(bg, testEnv(t, "graph", nil), &r, cfg); err != nil {
			t.Fatal(err)
		}
		requireFailed(t, &r, "validation_ms_per_page", "cycle_detect_ms_per_10k")
	})
	// A detector slow only on graphs over 1,000 pages: 30 ms a detection
	// of the 2,000-page large graph is 150 ms per 10k pages, over 10, so
	// the large graph's gate fails whatever the small graph's figure.
	t.Run("large graph", func(t *testing.T) {
		cfg := graphConfig{pages: 500, large: 2000, degree: 4, seed: 5}
		cfg.acyclic = func(g *graph.Graph) error {
			if g.NumNodes() > 1000 {
				time.Sleep(30 * time.Millisecond)
			}
			return g.CheckAcyclic()
		}
		var r Result
		if err := graphBench(bg, testEnv(t, "graph", nil), &r, cfg); err != nil {
			t.Fatal(err)
		}
		requireFailed(t, &r, "large_cycle_detect_ms_per_10k")
		if f := semanticFailures(&r); len(f) > 0 {
			t.Fatalf("a slow but right detector failed semantic checks %v", f)
		}
	})
	t.Run("throughput", func(t *testing.T) {
		env := testEnv(t, "throughput", tinyThroughput)
		env.Workers = 2
		var r Result
		err := throughputBenchWith(bg, env, &r, nil, func(int) func(context.Context, *mmsb.Bus, []delta.Delta) error {
			return func(ctx context.Context, e *mmsb.Bus, ds []delta.Delta) error {
				time.Sleep(2 * time.Millisecond)
				_, err := e.Commit(ctx, ds)
				return err
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		requireFailed(t, &r, "single_per_sec", "multi_per_sec")
	})
	t.Run("tick", func(t *testing.T) {
		cfg := tinyTick()
		cfg.slowBy = 20 * time.Millisecond
		var r Result
		if err := tickBench(bg, testEnv(t, "tick", nil), &r, cfg); err != nil {
			t.Fatal(err)
		}
		requireFailed(t, &r, "p99_ms")
	})
	t.Run("provenance", func(t *testing.T) {
		cfg := tinyProvenance()
		cfg.slowBy = 60 * time.Millisecond
		var r Result
		if err := provenanceBench(bg, testEnv(t, "provenance", nil), &r, cfg); err != nil {
			t.Fatal(err)
		}
		requireFailed(t, &r, "resolve_ms")
	})
}
