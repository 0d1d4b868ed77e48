package harness

import (
	"math"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/semiring"
)

func TestStabilityQuick(t *testing.T) {
	env := testEnv(t, "stability", nil)
	var r Result
	err := stabilityBench(bg, env, &r, defaultStability(60, 1))
	requirePass(t, &r, err)
	if r.Metrics["max_divergence"] == 0 {
		t.Fatal("perturbation had no effect: the runs are not independent")
	}
}

// TestStabilityNegativeBlowUp binds a function that overflows to Inf and
// then NaN (it is pure: the same inputs give the same output).
func TestStabilityNegativeBlowUp(t *testing.T) {
	env := testEnv(t, "stability", nil)
	cfg := defaultStability(60, 1)
	cfg.fn = "bad.blowup"
	cfg.funcs = map[string]mmsb.RecomputeFunc{"bad.blowup": func(in [][]byte, _, out []byte) error {
		for j := 0; j+8 <= len(out); j += 8 {
			v := semiring.F64At(in[1], j/8)*1e80 - semiring.F64At(in[0], j/8)*1e80
			if math.IsInf(v, 0) {
				v = math.Inf(1) - math.Inf(1) // NaN
			}
			semiring.PutF64(out, j/8, v)
		}
		return nil
	}}
	var r Result
	err := stabilityBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "no_nan")
}

// TestStabilityNegativeUnstable: an explicit scheme past its stability
// limit (alpha > 0.5) oscillates and grows: not smooth, not bounded.
func TestStabilityNegativeUnstable(t *testing.T) {
	env := testEnv(t, "stability", nil)
	cfg := defaultStability(80, 1)
	cfg.alpha = 0.9 // the reference runs the same unstable scheme: only the stability checks may fail
	cfg.weights = []float64{0.9, -0.8, 0.9}
	var r Result
	err := stabilityBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "smooth", "bounded_divergence", "no_nan")
	if c := checkNamed(t, &r, "matches_reference"); !c.Pass {
		t.Fatalf("the pages did not follow the (unstable) reference: %+v", c)
	}
}

// TestStabilityNegativeIdentity binds a function that copies the cell's
// own value: nothing moves, so nothing is NaN, nothing diverges and
// nothing jumps, and without a reference the run passes. The reference
// diffusion shows the pages did not diffuse.
func TestStabilityNegativeIdentity(t *testing.T) {
	env := testEnv(t, "stability", nil)
	cfg := defaultStability(60, 1)
	cfg.fn = "harness.identity"
	cfg.funcs = map[string]mmsb.RecomputeFunc{"harness.identity": func(in [][]byte, _, out []byte) error {
		copy(out, in[1])
		return nil
	}}
	var r Result
	err := stabilityBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "matches_reference")
	for _, name := range []string{"no_nan", "bounded_divergence", "smooth"} {
		if c := checkNamed(t, &r, name); !c.Pass {
			t.Fatalf("%s failed; the identity must pass every check but the reference: %+v", name, c)
		}
	}
}

// TestDiffuseStep: the reference against a hand-computed step.
func TestDiffuseStep(t *testing.T) {
	s := [][]float64{{1}, {0}, {0}, {0}}
	next := make([][]float64, 4)
	diffuseStep(next, s, 0.25)
	want := []float64{0.5, 0.25, 0, 0.25}
	for i := range want {
		if next[i][0] != want[i] {
			t.Fatalf("cell %d: %v, want %v", i, next[i][0], want[i])
		}
	}
}

// TestDiffuseStepMatchesWeighted: the reference rounds each product before
// it adds it, as f64.weighted does, so the two agree to the last bit on
// every platform. Written as v += a*b, a compiler that fuses multiply-adds
// (arm64; amd64 with GOAMD64=v3) rounded once instead of twice: with these
// values the reference gave -2⁻⁶⁰ where the pages hold 0. Run under
// GOARCH=arm64 (qemu-aarch64, as .ci/run does) to see it fail that way.
func TestDiffuseStepMatchesWeighted(t *testing.T) {
	x := 1 + math.Ldexp(1, -30) // x·x = 1 + 2⁻²⁹ + 2⁻⁶⁰ is not a float64
	alpha := x
	s := [][]float64{{0}, {-1}, {-x}}
	next := make([][]float64, len(s))
	diffuseStep(next, s, alpha)
	fn, _ := semiring.Lookup("f64.weighted")
	out := make([]byte, 8)
	ins := [][]byte{semiring.AppendF64(nil, s[0]...), semiring.AppendF64(nil, s[1]...), semiring.AppendF64(nil, s[2]...)}
	if err := fn(ins, semiring.AppendF64(nil, alpha, 1-2*alpha, alpha), out); err != nil {
		t.Fatal(err)
	}
	if got, want := next[1][0], semiring.F64At(out, 0); got != want || got != 0 {
		t.Fatalf("reference %g, f64.weighted %g; want both 0 (each product rounded before the sum)", got, want)
	}
}

// TestStabilityNegativeRejectedDelta: the first step's tick is handed one
// extra delta, to a page that does not exist; the tick returns no error
// but rejects it. The diffusion is unaffected, so only ticks_ok may fail
// (it counted only tick errors before, and passed this run). The clean run
// is TestStabilityQuick.
func TestStabilityNegativeRejectedDelta(t *testing.T) {
	env := testEnv(t, "stability", nil)
	cfg := defaultStability(60, 1)
	cfg.invalidDelta = true
	var r Result
	err := stabilityBench(bg, env, &r, cfg)
	requireOnlyFail(t, &r, err, "ticks_ok")
}

// TestStabilityNegativePerturbedStopsEarly: the perturbed run stops after
// 30 of its 60 steps. Its final state is still close to the unperturbed
// one (diffusion is slow), finite and smooth, so only the step count can
// show that it did not run: only steps_done may fail. ticks_ok compared
// the unperturbed run's steps with the configured count and never looked
// at the perturbed run's, so this passed.
func TestStabilityNegativePerturbedStopsEarly(t *testing.T) {
	env := testEnv(t, "stability", nil)
	cfg := defaultStability(60, 1)
	cfg.perturbedSteps = 30
	var r Result
	err := stabilityBench(bg, env, &r, cfg)
	requireOnlyFail(t, &r, err, "steps_done")
	if c := checkNamed(t, &r, "steps_done"); c.Value != 30 {
		t.Fatalf("steps_done value %v, want 30 (the perturbed run's steps)", c.Value)
	}
}
