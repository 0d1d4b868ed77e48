package main

import (
	"strings"
	"testing"
)

// TestBenchBadFlagValuesAreUsageErrors holds bench to the exit status
// docs/cli.md promises for a bad flag value: 2, a message naming the flag,
// nothing on stdout, and nothing attempted. Before, --growth-batch-pages 0
// or -5 panicked (index out of range, makeslice), --fanin above --pages made
// the tick workload draw distinct parents forever (a hang no signal ended),
// and --checkpoint-rate below 1 MiB/s opened the bus first and exited 1.
// Each case has a control: the nearest good value runs to exit status 0, so
// the check is not refusing everything.
func TestBenchBadFlagValuesAreUsageErrors(t *testing.T) {
	tiny := []string{"bench", "--no-progress", "--pages", "8", "--count", "16", "--batch", "4"}
	growth := []string{"--workload", "growth", "--growth-pages", "8", "--growth-batches", "1", "--page-size", "64"}
	tick := []string{"--workload", "tick", "--derived", "2", "--ticks", "1", "--deltas-per-tick", "2", "--page-size", "64"}
	cases := []struct {
		name      string
		bad, good []string
		flag      string
	}{
		{"growth batch pages zero", append(growth, "--growth-batch-pages", "0"), append(growth, "--growth-batch-pages", "8"), "--growth-batch-pages"},
		{"growth batch pages negative", append(growth, "--growth-batch-pages", "-5"), append(growth, "--growth-batch-pages", "1"), "--growth-batch-pages"},
		{"tick fanin above pages", append(tick, "--fanin", "9"), append(tick, "--fanin", "8"), "--fanin"},
		{"checkpoint rate below the minimum", []string{"--checkpoint-rate", "1000"}, []string{"--checkpoint-rate", "1048576"}, "--checkpoint-rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
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
