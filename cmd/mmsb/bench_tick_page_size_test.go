package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchTickPageSize: the tick workload writes float64s and sums them
// into its derived pages, so its --page-size is judged by that alone.
// Before, --page-size 8 (its documented minimum) was refused naming
// --delta-size, a flag the workload does not use ("--delta-size must be in
// 1..page size (8), got 16"), and a --page-size that is not a multiple of
// 8 opened the bus and created the pages before f64.sum refused the first
// binding (exit 1, --dir left holding a bus).
func TestBenchTickPageSize(t *testing.T) {
	tick := []string{"bench", "--no-progress", "--workload", "tick", "--pages", "4", "--fanin", "2", "--ticks", "2", "--deltas-per-tick", "3"}
	tests := []struct {
		name     string
		flags    []string
		code     int
		wantFlag string // named on stderr, for a usage error
	}{
		{"minimum page size", []string{"--page-size", "8", "--derived", "2"}, exitOK, ""},
		{"below the minimum", []string{"--page-size", "7", "--derived", "2"}, exitUsage, "--page-size"},
		{"not a multiple of 8 with derived pages", []string{"--page-size", "12", "--derived", "2"}, exitUsage, "--page-size"},
		{"not a multiple of 8 without derived pages", []string{"--page-size", "12", "--derived", "0"}, exitOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bus")
			args := append(append(append([]string{}, tick...), tc.flags...), "--dir", dir)
			r := runCLI(t, args...).mustCode(t, tc.code)
			if tc.code != exitUsage {
				return
			}
			if !strings.Contains(r.stderr, tc.wantFlag) || strings.Contains(r.stderr, "--delta-size") {
				t.Errorf("stderr %q does not name %s alone", r.stderr, tc.wantFlag)
			}
			if r.stdout != "" {
				t.Errorf("a usage error printed on stdout:\n%s", r.stdout)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a refused bench created --dir %s (stat: %v)", dir, err)
			}
		})
	}
}
