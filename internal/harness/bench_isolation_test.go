package harness

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/semiring"
)

func TestIsolationQuick(t *testing.T) {
	env := testEnv(t, "isolation", nil)
	var r Result
	err := isolationBench(bg, env, &r, isolationConfig{runs: 3, seed: 1})
	requirePass(t, &r, err)
	if r.Metrics["functions"] < 11 {
		t.Fatalf("only %v functions checked", r.Metrics["functions"])
	}
}

// TestIsolationNegativeWritesInput: a function that scribbles on its input.
func TestIsolationNegativeWritesInput(t *testing.T) {
	env := testEnv(t, "isolation", nil)
	var r Result
	err := isolationBench(bg, env, &r, isolationConfig{runs: 3, seed: 1, extra: map[string]mmsb.RecomputeFunc{
		"bad.scribble": func(in [][]byte, _, out []byte) error {
			in[0][0] ^= 0xff
			copy(out, in[1])
			return nil
		}}})
	requireFail(t, &r, err, "side_effects")
}

// TestIsolationNegativeNondeterministic: a function with hidden state.
func TestIsolationNegativeNondeterministic(t *testing.T) {
	env := testEnv(t, "isolation", nil)
	calls := 0.0
	var r Result
	err := isolationBench(bg, env, &r, isolationConfig{runs: 3, seed: 1, extra: map[string]mmsb.RecomputeFunc{
		"bad.counter": func(in [][]byte, _, out []byte) error {
			calls++
			semiring.PutF64(out, 0, calls)
			return nil
		}}})
	requireFail(t, &r, err, "purity")
}

// TestIsolationNegativeUnspecified: a registered function with no binding
// spec (as a new built-in without an isolationSpecs entry would be) is
// never bound, so never checked; it is pure, so only coverage may fail.
// The clean run is TestIsolationQuick.
func TestIsolationNegativeUnspecified(t *testing.T) {
	env := testEnv(t, "isolation", nil)
	var r Result
	err := isolationBench(bg, env, &r, isolationConfig{runs: 3, seed: 1, unspecified: map[string]mmsb.RecomputeFunc{
		"harness.unspecified": userMean}})
	requireOnlyFail(t, &r, err, "coverage")
}

// TestIsolationNegativeNotPropagated: the inputs are written but never
// propagated, so every bound page is stale. The purity validator compares
// a page with its function's output only when the page's last derivation
// read its parents' current bytes, and passes over a stale one: #4 showed
// "purity 100% (deterministic, consistent with the page)" having compared
// no page. Only consistent fails.
func TestIsolationNegativeNotPropagated(t *testing.T) {
	env := testEnv(t, "isolation", nil)
	var r Result
	err := isolationBench(bg, env, &r, isolationConfig{runs: 3, seed: 3, noPropagate: true})
	requireFail(t, &r, err, "consistent")
	if failed := semanticFailures(&r); len(failed) != 1 {
		t.Fatalf("want only consistent failed, got %v", failed)
	}
}

// TestIsolationNegativeBindingNotChecked: one page the benchmark bound is
// unbound right before the purity validator runs, so the validator checks
// one function fewer than were bound, and reports nothing about it. The
// other checks are taken over the bindings the validator ran (purity 100%,
// every one of them consistent): #4 passed with a function never checked.
// Only coverage fails. The clean run is TestIsolationQuick.
func TestIsolationNegativeBindingNotChecked(t *testing.T) {
	env := testEnv(t, "isolation", nil)
	var r Result
	err := isolationBench(bg, env, &r, isolationConfig{runs: 3, seed: 1, beforeCheck: func(ctx context.Context, e *mmsb.Bus) error {
		ids := e.Bindings()
		if len(ids) == 0 {
			return errors.New("no binding to remove")
		}
		return e.Unbind(ctx, ids[len(ids)-1])
	}})
	requireOnlyFail(t, &r, err, "coverage")
}
