package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/harness"
)

// TestHistoryAndPlotOnlyEarlierOutputs: validate --history DIR appended
// its line to any DIR/history.jsonl (another program's, or one in a bus's
// wal/), and bench --plot DIR wrote its growth-*.png files over any file
// of their names, in any directory. Both now follow validate --report's
// rule (harness.CheckHistoryDir, harness.CheckChartDir): such a DIR is a
// usage error before the run, naming the file or the bus, and is left as
// it was.
func TestHistoryAndPlotOnlyEarlierOutputs(t *testing.T) {
	other := t.TempDir()
	files := map[string][]byte{
		harness.HistoryFile:        []byte(`{"event":"deploy"}` + "\n"),
		"growth-rate-vs-pages.png": []byte("my notes"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(other, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wal := filepath.Join(newTestBus(t).dir, "wal")
	walBefore := listTree(t, wal)
	for _, tc := range []struct {
		args []string
		flag string
		dir  string
		want string
	}{
		{[]string{"validate", "--quick", "--no-progress", "--only", "1", "--history", other}, "--history", other,
			filepath.Join(other, harness.HistoryFile) + " exists and is not an earlier history"},
		{[]string{"validate", "--quick", "--no-progress", "--only", "1", "--history", wal}, "--history", wal, "it is a bus's directory"},
		{[]string{"bench", "--workload", "growth", "--no-progress", "--plot", other}, "--plot", other,
			filepath.Join(other, "growth-rate-vs-pages.png") + " exists and is not a PNG chart"},
		{[]string{"bench", "--workload", "growth", "--no-progress", "--plot", wal}, "--plot", wal, "it is a bus's directory"},
	} {
		r := runCLI(t, tc.args...).mustCode(t, exitUsage)
		if !strings.Contains(r.stderr, tc.flag+" "+tc.dir+": ") || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%s %s: stderr %q (stdout %q), want %q before the run", tc.flag, tc.dir, r.stderr, r.stdout, tc.want)
		}
	}
	for name, data := range files {
		if b, _ := os.ReadFile(filepath.Join(other, name)); string(b) != string(data) {
			t.Errorf("%s was changed (%q)", name, b)
		}
	}
	if entries, _ := os.ReadDir(other); len(entries) != len(files) {
		t.Errorf("files in %s: %v", other, entries)
	}
	if after := listTree(t, wal); strings.Join(after, "\n") != strings.Join(walBefore, "\n") {
		t.Errorf("wal/ changed: %q, was %q", after, walBefore)
	}

	// Earlier charts are replaced: two runs into one new DIR leave the
	// four PNGs and nothing else.
	plots := filepath.Join(t.TempDir(), "plots")
	for range 2 {
		runCLI(t, "bench", "--workload", "growth", "--growth-pages", "16", "--growth-batches", "4",
			"--growth-batch-pages", "16", "--page-size", "64", "--count", "200", "--checkpoint-bytes", "-1",
			"--plot", plots, "--no-progress").mustCode(t, exitOK)
	}
	entries, _ := os.ReadDir(plots)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if b, _ := os.ReadFile(filepath.Join(plots, e.Name())); !strings.HasPrefix(string(b), "\x89PNG") {
			t.Errorf("%s is no PNG", e.Name())
		}
	}
	if len(names) != len(growthChartFiles) {
		t.Errorf("files in --plot DIR: %q, want %q", names, growthChartFiles)
	}
}
