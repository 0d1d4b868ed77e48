package harness

import "testing"

func TestInvariantsQuick(t *testing.T) {
	env := testEnv(t, "invariants", nil)
	var r Result
	err := invariantsBench(bg, env, &r, invariantsConfig{cycles: 400, checkEvery: 50, seed: 4})
	requirePass(t, &r, err)
}

// TestInvariantsNegativeNaN writes a NaN into a float64 page midway.
func TestInvariantsNegativeNaN(t *testing.T) {
	env := testEnv(t, "invariants", nil)
	var r Result
	err := invariantsBench(bg, env, &r, invariantsConfig{cycles: 200, checkEvery: 50, seed: 4, nanAt: 120})
	requireFail(t, &r, err, "failures")
}

// TestInvariantsNegativeUser registers a user invariant that fails.
func TestInvariantsNegativeUser(t *testing.T) {
	env := testEnv(t, "invariants", nil)
	var r Result
	err := invariantsBench(bg, env, &r, invariantsConfig{cycles: 200, checkEvery: 50, seed: 4, failingUser: true})
	requireFail(t, &r, err, "failures")
}
