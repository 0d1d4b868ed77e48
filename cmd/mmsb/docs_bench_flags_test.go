package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBenchBadFlagValuesAreUsageErrors holds bench to the exit status
// docs/cli.md promises for a bad flag value: 2, a message naming the flag,
// nothing on stdout, and nothing attempted. Before, --growth-batch-pages 0
// or -5 panicked (index out of range, makeslice), --fanin above --pages made
// the tick workload draw distinct parents forever (a hang no signal ended),
// and --checkpoint-rate below 1 MiB/s or --workers above mmsb.MaxWorkers
// opened the bus first and exited 1; a --stall-trace that could not be
// written failed the bench only after it had run.
// Each case has a control: the nearest good value runs to exit status 0, so
// the check is not refusing everything.
func TestBenchBadFlagValuesAreUsageErrors(t *testing.T) {
	// The commit workload's flags, for the cases that name no other
	// workload (each workload refuses the flags it does not read).
	tiny := []string{"bench", "--no-progress"}
	commit := []string{"--pages", "8", "--count", "16", "--batch", "4"}
	growth := []string{"--workload", "growth", "--growth-pages", "8", "--growth-batches", "1", "--page-size", "64", "--count", "16", "--batch", "4"}
	tick := []string{"--workload", "tick", "--pages", "8", "--derived", "2", "--ticks", "1", "--deltas-per-tick", "2", "--page-size", "64"}
	traces := t.TempDir()
	cases := []struct {
		name      string
		bad, good []string
		flag      string
	}{
		{"growth batch pages zero", append(growth, "--growth-batch-pages", "0"), append(growth, "--growth-batch-pages", "8"), "--growth-batch-pages"},
		{"growth batch pages negative", append(growth, "--growth-batch-pages", "-5"), append(growth, "--growth-batch-pages", "1"), "--growth-batch-pages"},
		{"tick fanin above pages", append(tick, "--fanin", "9"), append(tick, "--fanin", "8"), "--fanin"},
		{"checkpoint rate below the minimum", []string{"--checkpoint-rate", "1000"}, []string{"--checkpoint-rate", "1048576"}, "--checkpoint-rate"},
		// Every negative rate was "unlimited" to the bus: -2 ran unpaced
		// and exited 0.
		{"checkpoint rate negative, not -1", []string{"--checkpoint-rate", "-2"}, []string{"--checkpoint-rate", "-1"}, "--checkpoint-rate -2"},
		// Options.Workers above mmsb.MaxWorkers: the bus refused it once
		// opened, "open bus: mmsb: invalid option: Workers 1025", exit 1.
		{"workers above the maximum", []string{"--workers", "1025"}, []string{"--workers", "1024"}, "--workers"},
		{"tick workers above the maximum", append(tick, "--workers", "1025"), append(tick, "--workers", "2"), "--workers"},
		// The trace is written at the first stall (every commit, at 1ns):
		// a path it cannot be written to failed the bench after its run
		// ("--stall-trace: open ...", exit 1), or went unnoticed without
		// a stall.
		{"stall trace in a missing directory", []string{"--stall-threshold", "1ns", "--stall-trace", filepath.Join(traces, "missing", "t.trace")},
			[]string{"--stall-trace", filepath.Join(traces, "t.trace")}, "--stall-trace"},
		{"stall trace is a directory", []string{"--stall-threshold", "1ns", "--stall-trace", traces},
			[]string{"--stall-trace", filepath.Join(traces, "t.trace")}, "--stall-trace"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tiny := tiny
			if c.bad[0] != "--workload" {
				tiny = append(slices.Clone(tiny), commit...)
			}
			bad := runCLI(t, append(append([]string{}, tiny...), c.bad...)...).mustCode(t, 2)
			if !strings.Contains(bad.stderr, c.flag) || !strings.Contains(bad.stderr, "usage") {
				t.Errorf("stderr does not name %s as a usage error:\n%s", c.flag, bad.stderr)
			}
			if bad.stdout != "" {
				t.Errorf("a usage error printed on stdout:\n%s", bad.stdout)
			}
			runCLI(t, append(append([]string{}, tiny...), c.good...)...).mustCode(t, 0)
		})
	}
}
