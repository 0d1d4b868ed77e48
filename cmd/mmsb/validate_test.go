package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/harness"
)

// The cheap benchmarks: isolation (#4) and provenance (#10) run in
// milliseconds, so the command's plumbing is tested without the big ones.

func TestValidateJSON(t *testing.T) {
	r := runCLI(t, "validate", "--quick", "--only", "4,10", "--json", "--no-progress").mustCode(t, exitOK)
	var rep harness.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, r.stdout)
	}
	if rep.Total != 2 || rep.Passed != 2 || !rep.AllPass || !rep.Quick {
		t.Fatalf("unexpected report: total %d passed %d all %v quick %v", rep.Total, rep.Passed, rep.AllPass, rep.Quick)
	}
	if rep.Results[0].ID != 4 || rep.Results[1].ID != 10 || len(rep.Results[1].Checks) == 0 {
		t.Fatalf("unexpected results: %+v", rep.Results)
	}
}

func TestValidateTableHistoryReport(t *testing.T) {
	dir := t.TempDir()
	hist, repDir := filepath.Join(dir, "hist"), filepath.Join(dir, "report")
	for i := 0; i < 2; i++ {
		r := runCLI(t, "validate", "--quick", "--only", "4,9", "--history", hist, "--report", repDir).mustCode(t, exitOK)
		for _, want := range []string{"=== MMSB Benchmark Validation ===", "✓ #4:", "✓ #9:", "Result: 2/2 PASS", "index.html"} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("output lacks %q:\n%s", want, r.stdout)
			}
		}
	}
	h, err := harness.ReadHistory(hist)
	if err != nil || len(h) != 2 || h[1].Passed != 2 || len(h[1].Results) != 2 {
		t.Fatalf("history: %v %+v", err, h)
	}
	for _, f := range []string{"index.html", "stability.png"} {
		if st, err := os.Stat(filepath.Join(repDir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("report file %s: %v", f, err)
		}
	}
}

// TestValidateFailingTargets: a targets file no bus can meet (purity above
// 100%) makes the run fail with exit status 1 and a ✗ in the table.
func TestValidateFailingTargets(t *testing.T) {
	tg, err := harness.LoadTargets("")
	if err != nil {
		t.Fatal(err)
	}
	for i := range tg.Benchmarks {
		if tg.Benchmarks[i].Key == "isolation" {
			tg.Benchmarks[i].Thresholds["min_purity"] = 2
		}
	}
	b, _ := json.Marshal(tg)
	path := filepath.Join(t.TempDir(), "targets.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "validate", "--quick", "--only", "4", "--targets", path).mustCode(t, exitFailure)
	if !strings.Contains(r.stdout, "✗ #4:") || !strings.Contains(r.stdout, "Result: 0/1 PASS") {
		t.Fatalf("failure not shown:\n%s", r.stdout)
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "--only", "11"},
		{"validate", "--only", "x"},
		{"validate", "--targets", "/nonexistent/targets.json"},
		{"validate", "extra-arg"},
		{"validate", "--workers", "-1"},
	} {
		runCLI(t, args...).mustCode(t, exitUsage)
	}
}

// injectNonFinite registers, for the test's duration, a benchmark #99 that
// fails numerically: a check whose value is +Inf, metrics that are NaN and
// -Inf, and a chart series holding NaN, the figures a diverging replay or
// an unstable simulation produce.
func injectNonFinite(t *testing.T) {
	t.Helper()
	remove, err := harness.Inject(harness.Benchmark{ID: 99, Key: "injected-nonfinite", Name: "Injected",
		Run: func(_ context.Context, _ *harness.Env, r *harness.Result) error {
			r.Semantic("divergence", false, math.Inf(1), "< 1e-9")
			r.Metric("l2", math.NaN())
			r.Metric("floor", math.Inf(-1))
			r.Metric("finite", 1.5)
			r.Series = map[string][]float64{"trajectory": {0, math.NaN(), math.Inf(1)}}
			r.Summary = "injected non-finite failure"
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)
}

// TestValidateNumericFailureJSON: a benchmark that fails with +Inf/NaN
// figures still yields valid JSON on stdout (non-finite values written as
// the strings "+Inf", "-Inf", "NaN", read back as such), a history line
// and exit status 1.
func TestValidateNumericFailureJSON(t *testing.T) {
	injectNonFinite(t)
	hist := filepath.Join(t.TempDir(), "hist")
	r := runCLI(t, "validate", "--only", "99", "--json", "--history", hist, "--no-progress").mustCode(t, exitFailure)
	var rep harness.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	if rep.Total != 1 || rep.Passed != 0 || rep.AllPass || len(rep.Results) != 1 {
		t.Fatalf("unexpected report: %+v", rep)
	}
	res := rep.Results[0]
	if len(res.Checks) != 1 || !math.IsInf(res.Checks[0].Value, 1) || res.Checks[0].Pass {
		t.Fatalf("check did not round-trip: %+v", res.Checks)
	}
	if !math.IsNaN(res.Metrics["l2"]) || !math.IsInf(res.Metrics["floor"], -1) || res.Metrics["finite"] != 1.5 {
		t.Fatalf("metrics did not round-trip: %v", res.Metrics)
	}
	if s := res.Series["trajectory"]; len(s) != 3 || !math.IsNaN(s[1]) || !math.IsInf(s[2], 1) {
		t.Fatalf("series did not round-trip: %v", s)
	}
	for _, want := range []string{`"value": "+Inf"`, `"l2": "NaN"`, `"floor": "-Inf"`} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("stdout lacks %s:\n%s", want, r.stdout)
		}
	}
	h, err := harness.ReadHistory(hist)
	if err != nil || len(h) != 1 || h[0].Passed != 0 || !math.IsNaN(h[0].Results[0].Metrics["l2"]) {
		t.Fatalf("history: %v %+v", err, h)
	}
}

// TestValidateNumericFailureTable: the same failure in table mode prints
// the table (the ✗ line with the +Inf value) before anything else can fail,
// appends the history line, writes the HTML report and exits 1.
func TestValidateNumericFailureTable(t *testing.T) {
	injectNonFinite(t)
	dir := t.TempDir()
	hist, repDir := filepath.Join(dir, "hist"), filepath.Join(dir, "report")
	r := runCLI(t, "validate", "--only", "99", "--history", hist, "--report", repDir, "--no-progress").mustCode(t, exitFailure)
	for _, want := range []string{"✗ #99:", "divergence=+Inf", "Result: 0/1 PASS"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("table lacks %q:\nstdout:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
		}
	}
	if h, err := harness.ReadHistory(hist); err != nil || len(h) != 1 || h[0].Results[0].Pass {
		t.Fatalf("history: %v %+v", err, h)
	}
	if st, err := os.Stat(filepath.Join(repDir, harness.ReportFile)); err != nil || st.Size() == 0 {
		t.Fatalf("report: %v", err)
	}
}
