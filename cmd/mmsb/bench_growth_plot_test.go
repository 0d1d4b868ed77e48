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
// stops at its first point ("8 pages, batch 1000: create pages 1 to 8 of
// 8: context canceled"), so the error it reports says which came first.
func TestBenchGrowthPlotDirFirst(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A --plot that is a file or lies below one is a usage error (exit 2:
	// a path that can never work, as serve --dir and replay --out); it
	// exited 1, as a failed run does, until 2026-12-07.
	tests := []struct {
		name, plot string
		code       int
		want       string
	}{
		{"below a file", filepath.Join(file, "charts"), exitUsage, "usage: --plot " + filepath.Join(file, "charts") + ": "},
		{"a file", file, exitUsage, "usage: --plot " + file + ": " + file + ": not a directory"},
		// The control: a good --plot passes, and the cancelled run stops.
		{"new directory", filepath.Join(t.TempDir(), "a", "b"), exitFailure, "context canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout, stderr strings.Builder
			code := run(ctx, []string{"bench", "--no-progress", "--workload", "growth", "--growth-pages", "8", "--growth-batches", "1",
				"--growth-batch-pages", "8", "--count", "100", "--page-size", "64", "--plot", tc.plot}, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit status %d, stderr %q; want %d and %q", code, stderr.String(), tc.code, tc.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("a failed run printed:\n%s", stdout.String())
			}
		})
	}
}
