package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTargetsParse(t *testing.T) {
	tg, err := LoadTargets("")
	if err != nil {
		t.Fatal(err)
	}
	if len(tg.Benchmarks) != 10 {
		t.Fatalf("%d targets, want 10", len(tg.Benchmarks))
	}
	if _, err := ParseTargets([]byte(`{"version":1,"benchmarks":[]}`)); err == nil {
		t.Fatal("targets without entries accepted")
	}
	if _, err := ParseTargets([]byte(`{"version":2}`)); err == nil {
		t.Fatal("unknown version accepted")
	}
}

func TestQuickRunSubset(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchmarks")
	}
	tg, _ := LoadTargets("")
	for i := range tg.Benchmarks {
		// Tiny sizes: this test checks the plumbing, not the figures.
		th := tg.Benchmarks[i].Thresholds
		for _, k := range []string{"quick_deltas"} {
			if _, ok := th[k]; ok {
				th[k] = 20000
			}
		}
		if tg.Benchmarks[i].Key == "throughput" {
			th["pages"] = 4096
		}
	}
	rep := mustRun(t, context.Background(), Config{Quick: true, Dir: t.TempDir(), Workers: 2}, tg, []int{5, 7})
	var buf bytes.Buffer
	rep.WriteTable(&buf)
	t.Log(buf.String())
	if rep.Total != 2 || !strings.Contains(buf.String(), "=== MMSB Benchmark Validation ===") {
		t.Fatalf("unexpected report:\n%s", buf.String())
	}
	for _, r := range rep.Results {
		for _, c := range r.Checks {
			if c.Semantic && !c.Pass {
				t.Errorf("#%d semantic check %s failed: %+v", r.ID, c.Name, c)
			}
		}
	}
}

// TestInject: an injected benchmark is listed and run like a registered
// one without a targets entry, is gone after remove, and a clash with a
// registered ID or key is refused.
func TestInject(t *testing.T) {
	if _, err := Inject(Benchmark{ID: 1, Key: "other", Run: func(context.Context, *Env, *Result) error { return nil }}); !errors.Is(err, ErrInject) {
		t.Fatalf("duplicate ID accepted: %v", err)
	}
	if _, err := Inject(Benchmark{ID: 50, Key: "x"}); !errors.Is(err, ErrInject) {
		t.Fatalf("benchmark without Run accepted: %v", err)
	}
	remove, err := Inject(Benchmark{ID: 50, Key: "injected", Name: "Injected", Run: func(_ context.Context, _ *Env, r *Result) error {
		r.Semantic("fails", false, 1, "never")
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := LoadTargets("")
	if err != nil {
		t.Fatalf("targets refused while a benchmark is injected: %v", err)
	}
	rep := mustRun(t, bg, Config{Quick: true}, tg, []int{50})
	if rep.Total != 1 || rep.Passed != 0 || rep.Results[0].Key != "injected" {
		t.Fatalf("injected run: %+v", rep)
	}
	remove()
	if n := len(All()); n != 10 {
		t.Fatalf("%d benchmarks after remove, want 10", n)
	}
}

// TestTargetsRefuseEmptySizes: a targets file whose sizes make a benchmark
// do no work is refused, and so is a benchmark run on such targets built
// by hand. Before, #9 with "steps": 0 and #10 with "depth": 0 passed every
// check over nothing, and a missing size became int(NaN).
func TestTargetsRefuseEmptySizes(t *testing.T) {
	for _, tc := range []struct {
		key, name string
		value     any // nil: the size is left out
	}{
		{"stability", "steps", 0},
		{"stability", "quick_steps", 0},
		{"provenance", "depth", 0},
		{"throughput", "deltas", -1},
		{"invariants", "cycles", 0.5},
		{"stability", "steps", nil},
		// The large graph's check (large_verdict) ran only for
		// large_pages > 0: 0, or a missing size (int(NaN), negative),
		// dropped it from #3 and the run passed without it.
		{"graph", "large_pages", 0},
		{"graph", "quick_large_pages", 0},
		{"graph", "large_pages", nil},
		// #1's sources is optional (32 when left out); 0 or -1 made the
		// benchmark fail with "panic: invalid argument to IntN".
		{"replay", "sources", 0},
		{"replay", "quick_sources", -1},
	} {
		var raw map[string]any
		if err := json.Unmarshal(DefaultTargets(), &raw); err != nil {
			t.Fatal(err)
		}
		for _, b := range raw["benchmarks"].([]any) {
			e := b.(map[string]any)
			if e["key"] == tc.key {
				th := e["thresholds"].(map[string]any)
				if tc.value == nil {
					delete(th, tc.name)
				} else {
					th[tc.name] = tc.value
				}
			}
		}
		b, err := json.Marshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseTargets(b); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s %s=%v: targets accepted (%v)", tc.key, tc.name, tc.value, err)
		}
	}

	tg, err := LoadTargets("")
	if err != nil {
		t.Fatal(err)
	}
	for i := range tg.Benchmarks {
		if tg.Benchmarks[i].Key == "stability" {
			tg.Benchmarks[i].Thresholds["quick_steps"] = 0
		}
	}
	rep := mustRun(t, bg, Config{Quick: true}, tg, []int{9})
	if rep.Total != 1 || rep.Passed != 0 || !strings.Contains(rep.Results[0].Error, "quick_steps") {
		t.Fatalf("#9 with 0 steps: %+v", rep.Results)
	}
}

// TestRunOfNothingIsNotAPass: a selection that matches no benchmark runs
// nothing, and a report of nothing must not say every benchmark passed
// (0 of 0 was AllPass).
func TestRunOfNothingIsNotAPass(t *testing.T) {
	tg, err := LoadTargets("")
	if err != nil {
		t.Fatal(err)
	}
	rep := mustRun(t, context.Background(), Config{Quick: true}, tg, []int{987654})
	if rep.Total != 0 || rep.AllPass {
		t.Fatalf("a run of no benchmark: total %d, all pass %v", rep.Total, rep.AllPass)
	}
}

// TestQuickRunNeedsAGatingCheck: a benchmark that records only timing
// checks gates on nothing in a quick run (timings do not gate there), so it
// must not pass; in a full run its timing checks gate and it passes. It
// passed in both, having "recorded at least one check".
func TestQuickRunNeedsAGatingCheck(t *testing.T) {
	remove, err := Inject(Benchmark{ID: 91, Key: "timing-only", Name: "Timing only",
		Run: func(_ context.Context, _ *Env, r *Result) error {
			r.Timing("rate", true, 1, "ops/s", ">= 1 ops/s")
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	tg, err := LoadTargets("")
	if err != nil {
		t.Fatal(err)
	}
	for _, quick := range []bool{true, false} {
		rep := mustRun(t, context.Background(), Config{Quick: quick}, tg, []int{91})
		if len(rep.Results) != 1 || rep.Results[0].Pass == quick {
			t.Fatalf("quick %v: %+v, want pass %v", quick, rep.Results, !quick)
		}
		var tbl bytes.Buffer
		rep.WriteTable(&tbl)
		h := rep.History()
		if quick && (!strings.Contains(tbl.String(), "no check gates in this mode") || len(h.Results[0].Failed) != 1) {
			t.Fatalf("a failure with no failed check must say why:\n%s\nhistory %+v", tbl.String(), h.Results)
		}
	}
}

// A run against targets that differ from the published ones says so, in
// the table's result line and in the JSON report, threshold by threshold
// and for the name and target text the table shows: before, --targets
// with replay's max_bytes_differing raised from 0 passed as "10/10 PASS"
// with nothing to tell it from the published gate, and so did a target
// text changed to "NO TARGET AT ALL".
func TestChangedTargetsReported(t *testing.T) {
	write := func(edit func(th map[string]any), entry func(e map[string]any)) string {
		t.Helper()
		var d map[string]any
		if err := json.Unmarshal(DefaultTargets(), &d); err != nil {
			t.Fatal(err)
		}
		for _, b := range d["benchmarks"].([]any) {
			if e := b.(map[string]any); e["key"] == "replay" {
				edit(e["thresholds"].(map[string]any))
				if entry != nil {
					entry(e)
				}
			}
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "targets.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name  string
		edit  func(th map[string]any)
		entry func(e map[string]any)
		want  []string
	}{
		{"the published targets, copied (control)", func(map[string]any) {}, nil, nil},
		{"a semantic threshold loosened", func(th map[string]any) { th["max_bytes_differing"] = 1000 }, nil,
			[]string{"replay.max_bytes_differing: 0 → 1000"}},
		{"a quick_ gate added", func(th map[string]any) { th["quick_max_divergence"] = 2 }, nil,
			[]string{"replay.quick_max_divergence: (absent) → 2"}},
		{"the target text and name changed", func(map[string]any) {},
			func(e map[string]any) { e["target"], e["name"] = "NO TARGET AT ALL", "Replay?" },
			[]string{`replay.name: "Replay" → "Replay?"`, `replay.target: "divergence < 1e-9 over 1000 cycles; 0 bytes differing" → "NO TARGET AT ALL"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := LoadTargets(write(tc.edit, tc.entry))
			if err != nil {
				t.Fatal(err)
			}
			if got := tg.Changes(); !slices.Equal(got, tc.want) {
				t.Fatalf("Changes() = %q, want %q", got, tc.want)
			}
			rep := mustRun(t, context.Background(), Config{Quick: true, Dir: t.TempDir()}, tg, []int{-1}) // runs nothing
			var buf bytes.Buffer
			rep.WriteTable(&buf)
			js, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			hist, err := json.Marshal(rep.History())
			if err != nil {
				t.Fatal(err)
			}
			said := strings.Contains(buf.String(), "NOT the published targets") && strings.Contains(string(js), `"target_changes"`) &&
				strings.Contains(string(hist), `"target_changes"`)
			if said != (len(tc.want) > 0) {
				t.Fatalf("report says the targets changed: %v, want %v:\n%s\n%s", said, len(tc.want) > 0, buf.String(), js)
			}
			for _, c := range tc.want {
				if !strings.Contains(buf.String(), "target changed: "+c) {
					t.Errorf("table does not list %q:\n%s", c, buf.String())
				}
			}
		})
	}
}
