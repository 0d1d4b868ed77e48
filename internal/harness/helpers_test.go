package harness

import (
	"context"
	"slices"
	"testing"
)

// testEnv returns the quick-mode environment of benchmark key, with
// thresholds overridden (tiny sizes for tests).
func testEnv(t *testing.T, key string, over map[string]float64) *Env {
	t.Helper()
	tg, err := LoadTargets("")
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Config: Config{Quick: true, Seed: 7, Workers: 2, Dir: t.TempDir()}, Entry: tg.Entry(key)}
	th := map[string]float64{}
	for k, v := range env.Entry.Thresholds {
		th[k] = v
	}
	for k, v := range over {
		th[k] = v
		th["quick_"+k] = v
	}
	env.Entry.Thresholds = th
	return env
}

// semanticFailures lists the semantic checks of r that failed.
func semanticFailures(r *Result) []string {
	var out []string
	for _, c := range r.Checks {
		if c.Semantic && !c.Pass {
			out = append(out, c.Name)
		}
	}
	return out
}

// requirePass fails the test unless run succeeded with every semantic
// check passing.
func requirePass(t *testing.T, r *Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("benchmark error: %v", err)
	}
	if len(r.Checks) == 0 {
		t.Fatal("no checks recorded")
	}
	if f := semanticFailures(r); len(f) > 0 {
		t.Fatalf("semantic checks failed: %v\n%+v\nsummary: %s", f, r.Checks, r.Summary)
	}
	if r.Summary == "" {
		t.Fatal("no summary")
	}
	t.Logf("%s", r.Summary)
}

// requireFail fails the test unless one of the named semantic checks
// failed (the negative control was caught).
func requireFail(t *testing.T, r *Result, err error, names ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("benchmark error (a negative control must be reported as a failed check): %v", err)
	}
	failed := semanticFailures(r)
	for _, n := range names {
		for _, f := range failed {
			if f == n {
				t.Logf("caught: %v; summary: %s", failed, r.Summary)
				return
			}
		}
	}
	t.Fatalf("negative control not caught: want one of %v failed, failed %v\n%+v", names, failed, r.Checks)
}

var bg = context.Background()

// checkNamed returns r's check called name, failing the test if there is
// none.
func checkNamed(t *testing.T, r *Result, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q among %+v", name, r.Checks)
	return Check{}
}

// requireOnlyFail fails the test unless the run succeeded and the semantic
// checks that failed are exactly names (each must be a check of r): the
// negative control was caught by the gate it targets, and by no other.
func requireOnlyFail(t *testing.T, r *Result, err error, names ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("benchmark error (a negative control must be reported as a failed check): %v", err)
	}
	for _, n := range names {
		checkNamed(t, r, n)
	}
	failed := semanticFailures(r)
	slices.Sort(failed)
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(failed, want) {
		t.Fatalf("failed semantic checks %v, want exactly %v\n%+v\nsummary: %s", failed, want, r.Checks, r.Summary)
	}
	t.Logf("caught: %v; summary: %s", failed, r.Summary)
}

// requireCheckPasses fails the test unless r's check name passed (the same
// run without the fault passes the gate a negative control targets).
func requireCheckPasses(t *testing.T, r *Result, err error, name string) {
	t.Helper()
	if err != nil {
		t.Fatalf("benchmark error: %v", err)
	}
	if c := checkNamed(t, r, name); !c.Pass {
		t.Fatalf("%s failed without the fault: %+v\nsummary: %s", name, c, r.Summary)
	}
}
