package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/harness"
)

// TestValidateSeedZero: --seed 0 is a seed like any other. It ran as seed
// 1 (the harness replaced 0 by its default), so `--seed 0` and `--seed 1`
// did the same work and the report did not say which seed ran. The
// benchmarks see the seed given, and the JSON report and the history
// line name it; without --seed it is 1.
func TestValidateSeedZero(t *testing.T) {
	var seen []uint64
	remove, err := harness.Inject(harness.Benchmark{ID: 4243, Key: "cli-seed-probe", Name: "Seed probe",
		Run: func(_ context.Context, env *harness.Env, r *harness.Result) error {
			seen = append(seen, env.Seed)
			r.Semantic("ran", true, 1, "ran")
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	for _, tc := range []struct {
		args []string
		want uint64
	}{
		{[]string{"--seed", "0"}, 0},
		{nil, 1},
		{[]string{"--seed", "18446744073709551615"}, 1<<64 - 1},
	} {
		seen = nil
		hist := filepath.Join(t.TempDir(), "hist")
		args := append([]string{"validate", "--quick", "--no-progress", "--only", "4243", "--json", "--history", hist}, tc.args...)
		r := runCLI(t, args...).mustCode(t, exitOK)
		var rep harness.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if len(seen) != 1 || seen[0] != tc.want || rep.Seed != tc.want {
			t.Fatalf("%v: the benchmark saw seeds %v, the report says %d; want %d", tc.args, seen, rep.Seed, tc.want)
		}
		h, err := harness.ReadHistory(hist)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 1 || h[0].Seed != tc.want {
			t.Fatalf("%v: history %+v, want one entry with seed %d", tc.args, h, tc.want)
		}
	}
}
