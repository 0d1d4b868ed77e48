package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckpointRateOutOfRange: --rate below -1 is a usage error naming
// the flag, found before the directory is opened (no checkpoint is
// written). Every negative rate is "no limit" to the bus, so --rate -5 (a
// slip for 5, which is refused as too slow) checkpointed unpaced and
// exited 0. The controls, -1 and 0, checkpoint.
func TestCheckpointRateOutOfRange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	runCLI(t, "bench", "--no-progress", "--dir", dir, "--pages", "4", "--page-size", "64", "--delta-size", "8", "--count", "40").mustCode(t, exitOK)
	for _, c := range []struct {
		rate string
		code int
		want string
	}{
		{"-5", exitUsage, "--rate -5: -1 means no limit"},
		{"-2", exitUsage, "--rate -2: -1 means no limit"},
		{"-9223372036854775808", exitUsage, "--rate -9223372036854775808: -1 means no limit"},
		{"5", exitUsage, "--rate 5: a limit must be at least"},
		{"-1", exitOK, ""},
		{"0", exitOK, ""},
	} {
		t.Run(c.rate, func(t *testing.T) {
			before := checkpointLSNs(filepath.Join(dir, "checkpoints"))
			r := runCLI(t, "checkpoint", "--json", "--rate", c.rate, dir).mustCode(t, c.code)
			if c.code == exitOK {
				return
			}
			if !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "usage") {
				t.Errorf("stderr %q, want a usage error containing %q", r.stderr, c.want)
			}
			if r.stdout != "" {
				t.Errorf("a usage error printed on stdout: %q", r.stdout)
			}
			if after := checkpointLSNs(filepath.Join(dir, "checkpoints")); len(after) != len(before) {
				t.Errorf("a refused --rate %s wrote a checkpoint: %v before, %v after", c.rate, before, after)
			}
		})
	}
}
