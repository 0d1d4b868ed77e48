//go:build stress

package stress

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestEmptyWorkloadsFail: each suite run with a workload flag too small to
// do any work must fail, naming the flag. -stress.cycles=50 ran no
// invariant check (one every 100 cycles) and TestStability passed,
// comparing 0 checks with the 50/100 = 0 it wanted; -stress.deltas=0
// committed nothing and TestThroughput passed; -stress.pages=0 made
// TestMemory divide by zero. Each case runs the suite in a child process
// (this test binary) and reads its verdict.
func TestEmptyWorkloadsFail(t *testing.T) {
	if os.Getenv("MMSB_STRESS_CHILD") == "1" {
		t.Skip("a child of TestEmptyWorkloadsFail")
	}
	for _, tc := range []struct{ test, flag string }{
		{"TestStability", "-stress.cycles=50"},
		{"TestStability", "-stress.cycles=0"},
		{"TestThroughput", "-stress.deltas=0"},
		{"TestMemory", "-stress.pages=0"},
	} {
		t.Run(tc.test+tc.flag, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^"+tc.test+"$", "-test.count=1", tc.flag)
			cmd.Env = append(os.Environ(), "MMSB_STRESS_CHILD=1")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("%s %s: %v, want a failing run\n%s", tc.test, tc.flag, err, out)
			}
			name := strings.SplitN(strings.TrimPrefix(tc.flag, "-"), "=", 2)[0]
			if !strings.Contains(string(out), "-"+name+"=") || !strings.Contains(string(out), "checks nothing") {
				t.Fatalf("%s %s failed without naming the flag:\n%s", tc.test, tc.flag, out)
			}
		})
	}
}
