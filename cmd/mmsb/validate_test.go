package main

import (
	"encoding/json"
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
