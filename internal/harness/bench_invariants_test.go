package harness

import "testing"

func TestInvariantsQuick(t *testing.T) {
	env := testEnv(t, "invariants", nil)
	var r Result
	err := invariantsBench(bg, env, &r, invariantsConfig{cycles: 400, seed: 4})
	requirePass(t, &r, err)
	if c := checkNamed(t, &r, "checks_every_cycle"); c.Value != 400 {
		t.Fatalf("%v checks in 400 cycles", c.Value)
	}
}

// TestInvariantsNegativeNaN writes a NaN into a float64 page midway.
func TestInvariantsNegativeNaN(t *testing.T) {
	env := testEnv(t, "invariants", nil)
	var r Result
	err := invariantsBench(bg, env, &r, invariantsConfig{cycles: 200, seed: 4, nanAt: 120})
	requireFail(t, &r, err, "failures")
}

// TestInvariantsNegativeTransientNaN: a NaN that is in the state for one
// cycle only (written at cycle 121, overwritten at 122). The validator run
// every 100 cycles never saw it; run after every cycle, it must.
func TestInvariantsNegativeTransientNaN(t *testing.T) {
	env := testEnv(t, "invariants", nil)
	var r Result
	err := invariantsBench(bg, env, &r, invariantsConfig{cycles: 200, seed: 4, transientNaNAt: 121})
	requireFail(t, &r, err, "failures")
}

// TestInvariantsNegativeUser registers a user invariant that fails.
func TestInvariantsNegativeUser(t *testing.T) {
	env := testEnv(t, "invariants", nil)
	var r Result
	err := invariantsBench(bg, env, &r, invariantsConfig{cycles: 200, seed: 4, failingUser: true})
	requireFail(t, &r, err, "failures")
}
