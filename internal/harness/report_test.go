package harness

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syntheticReport is a report with the figures every chart draws.
func syntheticReport() *Report {
	return &Report{Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Quick: true, Machine: "test", GoVer: "go",
		Passed: 3, Total: 4, Results: []Result{
			{ID: 5, Key: "throughput", Name: "Throughput", Pass: true, Summary: "s5",
				Checks: []Check{{Name: "multi", Pass: false, Value: 5e6, Unit: "deltas/s", Target: ">= 10M/s"}},
				Series: map[string][]float64{"deltas_per_sec_by_workers": {5e6, 6e6}}},
			{ID: 6, Key: "tick", Name: "Tick Latency", Pass: true, Summary: "s6",
				Checks: []Check{{Name: "p99", Pass: true, Value: 3}}, Series: map[string][]float64{"tick_ms": {1, 2, 2, 3, 9}}},
			{ID: 7, Key: "memory", Name: "Memory", Pass: true, Summary: "s7",
				Checks:  []Check{{Name: "avg", Semantic: true, Pass: true, Value: 1024}},
				Metrics: map[string]float64{"rss_per_page_bytes": 1060, "rss_marginal_per_page_bytes": 1050, "logical_per_page_bytes": 1024}},
			{ID: 9, Key: "stability", Name: "Stability", Pass: false, Summary: "s9 <b>", Error: "boom",
				Checks: []Check{{Name: "no_nan", Semantic: true, Pass: false, Value: 3}},
				Series: map[string][]float64{"cell0_unperturbed": {0, 1, 0.5}, "cell0_perturbed": {0, 1.1, 0.4}}},
		}}
}

func TestWriteHTMLReport(t *testing.T) {
	dir := t.TempDir()
	charts, err := WriteHTMLReport(dir, syntheticReport())
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 4 {
		t.Fatalf("%d charts, want 4: %+v", len(charts), charts)
	}
	for _, c := range charts {
		b, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Fatalf("%s is not a PNG: %v", c.File, err)
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3/4 PASS", "tick_latency.png", "Result: 3/4 PASS", "s9 &lt;b&gt;", "error: boom", "rss_per_page_bytes = 1060"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestWriteHTMLReportNoCharts(t *testing.T) {
	dir := t.TempDir()
	rep := &Report{Results: []Result{{ID: 4, Key: "isolation", Name: "Isolation", Pass: true}}, Passed: 1, Total: 1}
	charts, err := WriteHTMLReport(dir, rep)
	if err != nil || len(charts) != 0 {
		t.Fatalf("charts %v err %v", charts, err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	if !strings.Contains(string(html), "No chart") {
		t.Fatal("missing no-chart note")
	}
}

func TestHistoryAppendRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "h")
	if h, err := ReadHistory(dir); err != nil || len(h) != 0 {
		t.Fatalf("empty history: %v %v", h, err)
	}
	rep := syntheticReport()
	for i := 0; i < 3; i++ {
		rep.Started = rep.Started.Add(time.Minute)
		if err := AppendHistory(dir, rep); err != nil {
			t.Fatal(err)
		}
	}
	h, err := ReadHistory(dir)
	if err != nil || len(h) != 3 {
		t.Fatalf("history %d entries, err %v", len(h), err)
	}
	last := h[2]
	if last.Passed != 3 || last.Total != 4 || len(last.Results) != 4 {
		t.Fatalf("entry: %+v", last)
	}
	// Quick mode: only the failed semantic check and the error gate.
	if f := last.Results[3].Failed; len(f) != 2 || f[0] != "no_nan" || f[1] != "error" {
		t.Fatalf("failed list %v", f)
	}
	if len(last.Results[0].Failed) != 0 {
		t.Fatalf("timing failure gated in quick mode: %v", last.Results[0].Failed)
	}
	// A damaged line is reported, not skipped.
	f, _ := os.OpenFile(filepath.Join(dir, HistoryFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{not json\n")
	f.Close()
	if _, err := ReadHistory(dir); err == nil {
		t.Fatal("damaged history accepted")
	}
}

// TestAllRegistered: the ten benchmarks exist, with distinct IDs 1..10, and
// each has a targets entry.
func TestAllRegistered(t *testing.T) {
	all := All()
	if len(all) != 10 {
		t.Fatalf("%d benchmarks registered, want 10", len(all))
	}
	tg, _ := LoadTargets("")
	for i, b := range all {
		if b.ID != i+1 {
			t.Fatalf("benchmark %d has ID %d", i, b.ID)
		}
		if e := tg.Entry(b.Key); e.ID != b.ID || e.Target == "" {
			t.Fatalf("targets entry for %s: %+v", b.Key, e)
		}
	}
}

// TestQuickRunAll runs the benchmarks through Run in quick mode (shrunk)
// and requires every semantic check to pass: the same gate
// `mmsb validate --quick` applies. #7 is left out: its RSS projection from
// a few thousand pages is not meaningful under -race (TestQuickRunSubset
// covers its plumbing).
func TestQuickRunAll(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every benchmark")
	}
	tg, _ := LoadTargets("")
	for i := range tg.Benchmarks {
		th := tg.Benchmarks[i].Thresholds
		switch tg.Benchmarks[i].Key {
		case "throughput":
			th["quick_deltas"], th["pages"] = 50000, 4096
		case "tick":
			th["quick_ticks"], th["pages"], th["deltas_per_tick"], th["derived"] = 10, 20000, 2000, 200
		case "graph":
			th["quick_large_pages"] = 20000
		case "integrity":
			th["quick_deltas"] = 5000
		case "invariants":
			th["quick_cycles"] = 300
		}
	}
	var seen []int
	rep := mustRun(t, bg, Config{Quick: true, Dir: t.TempDir(), Workers: 2, Progress: func(id int, _ string) { seen = append(seen, id) }}, tg,
		[]int{1, 2, 3, 4, 5, 6, 8, 9, 10})
	var buf bytes.Buffer
	rep.WriteTable(&buf)
	t.Log(buf.String())
	if rep.Total != 9 || len(seen) != 9 || !rep.AllPass {
		t.Fatalf("quick run: %d/%d passed, progress saw %v", rep.Passed, rep.Total, seen)
	}
}

// TestWriteHTMLReportNonFinite: a failed run's NaN/Inf figures cannot be
// drawn; the report is still written, with every chart that can be drawn
// and a note naming each one left out.
func TestWriteHTMLReportNonFinite(t *testing.T) {
	rep := syntheticReport()
	rep.Results[0].Series["deltas_per_sec_by_workers"] = []float64{1, math.NaN()}
	rep.Results[3].Series["cell0_perturbed"] = []float64{0, math.Inf(1), math.NaN()}
	dir := t.TempDir()
	charts, err := WriteHTMLReport(dir, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2 {
		t.Fatalf("%d charts, want 2 (tick latency, memory): %+v", len(charts), charts)
	}
	html, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	for _, want := range []string{"Chart omitted: throughput.png", "Chart omitted: stability.png", "Result: 3/4 PASS"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestJSONNonFinite: checks, metrics and series with NaN and ±Inf encode
// (as strings) and decode back to the same values; a report and a history
// line round-trip.
func TestJSONNonFinite(t *testing.T) {
	rep := syntheticReport()
	rep.Results[2].Checks[0].Value = math.Inf(1)
	rep.Results[2].Metrics["rss_per_page_bytes"] = math.NaN()
	rep.Results[3].Series["cell0_perturbed"] = []float64{0, math.Inf(-1)}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(back.Results[2].Checks[0].Value, 1) || !math.IsNaN(back.Results[2].Metrics["rss_per_page_bytes"]) ||
		!math.IsInf(back.Results[3].Series["cell0_perturbed"][1], -1) || back.Results[2].Metrics["logical_per_page_bytes"] != 1024 {
		t.Fatalf("did not round-trip: %s", b)
	}
	dir := t.TempDir()
	if err := AppendHistory(dir, rep); err != nil {
		t.Fatal(err)
	}
	h, err := ReadHistory(dir)
	if err != nil || len(h) != 1 || !math.IsNaN(h[0].Results[2].Metrics["rss_per_page_bytes"]) {
		t.Fatalf("history: %v %+v", err, h)
	}
	var c Check
	if err := json.Unmarshal([]byte(`{"value":"lots"}`), &c); !errors.Is(err, ErrBadFloat) {
		t.Fatalf("bad float name accepted: %v", err)
	}
}
