package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchGrowthPlotDirFirst: --plot is made a directory before the
// growth workload measures anything, so that a --plot that cannot be one
// fails at once. It was made with the charts, after every point had been
// measured (minutes at the default sizes), and its failure lost them all.
// The run gets a context already cancelled: a run that started measuring
// stops at its first point ("8 pages, batch 1000: create pages 0..7:
// context canceled"), so the error it reports says which came first.
func TestBenchGrowthPlotDirFirst(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, plot string
		want       string
	}{
		{"below a file", filepath.Join(file, "charts"), "--plot"},
		{"a file", file, "--plot"},
		// The control: a good --plot passes, and the cancelled run stops.
		{"new directory", filepath.Join(t.TempDir(), "a", "b"), "context canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout, stderr strings.Builder
			code := run(ctx, []string{"bench", "--no-progress", "--workload", "growth", "--growth-pages", "8", "--growth-batches", "1",
				"--growth-batch-pages", "8", "--count", "100", "--page-size", "64", "--plot", tc.plot}, &stdout, &stderr)
			if code != exitFailure || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit status %d, stderr %q; want 1 and %q", code, stderr.String(), tc.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("a failed run printed:\n%s", stdout.String())
			}
		})
	}
}
