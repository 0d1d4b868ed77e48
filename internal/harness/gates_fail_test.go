package harness

import (
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// requireEachFailed fails the test unless every named semantic check of r
// was recorded and failed. requireFail passes when any one of its names
// failed, so a control that lists several proves none of them alone: with
// #1's l2_divergence, or #9's smooth or bounded_divergence, wired to pass,
// every test of the package still passed (found by replacing each check's
// condition with true in turn and running its benchmark's tests).
func requireEachFailed(t *testing.T, r *Result, err error, names ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("benchmark error (a negative control must be reported as a failed check): %v", err)
	}
	for _, n := range names {
		if c := checkNamed(t, r, n); c.Pass {
			t.Errorf("%s passed (value %g, target %s): the gate cannot fail on this control", n, c.Value, c.Target)
		}
	}
}

// TestReplayNegativeLyingLogDiverges: the log that lies about a float
// byte (the exponent's lowest bit of the last float64 of a client delta,
// CRC fixed up) makes the replayed pages differ by far more than 1e-9 in
// L2, so l2_divergence fails, not only bytes_differing.
func TestReplayNegativeLyingLogDiverges(t *testing.T) {
	env := testEnv(t, "replay", nil)
	cfg := tinyReplay(env)
	cfg.tamper = func(fs vfs.FS, walDir string) error {
		_, err := CorruptLastClientDelta(fs, walDir, true)
		return err
	}
	var r Result
	err := replayBench(bg, env, &r, cfg)
	requireEachFailed(t, &r, err, "l2_divergence", "bytes_differing")
	if c := checkNamed(t, &r, "l2_divergence"); !(c.Value >= env.Threshold("max_divergence")) {
		t.Fatalf("l2_divergence value %g is under its threshold", c.Value)
	}
}

// TestStabilityNegativeUnstableEachGate: the scheme past its stability
// limit (α = 0.9) must fail both smooth and bounded_divergence, each on
// its own (TestStabilityNegativeUnstable accepts either).
func TestStabilityNegativeUnstableEachGate(t *testing.T) {
	env := testEnv(t, "stability", nil)
	cfg := defaultStability(80, 1)
	cfg.alpha = 0.9
	cfg.weights = []float64{0.9, -0.8, 0.9}
	var r Result
	err := stabilityBench(bg, env, &r, cfg)
	requireEachFailed(t, &r, err, "smooth", "bounded_divergence")
}
