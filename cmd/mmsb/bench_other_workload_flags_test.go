package main

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestBenchFlagsOfOtherWorkloadsRefused: every flag of `mmsb bench` is
// placed in benchFlagWorkloads, and one given to a workload that does not
// read it is a usage error (exit 2) naming the flag, the workloads that
// read it and the one that does not, before any work: `bench --count 10
// --ticks 5`, `--workload tick --concurrency 4` and `--workload tick
// --count 10` ran with the flag ignored, exit 0. The control, for each
// flag and each workload that reads it: the flag passes this check, and
// the run stops at a bad value given after it (a usage error of its own).
func TestBenchFlagsOfOtherWorkloadsRefused(t *testing.T) {
	a := &app{stdout: io.Discard, stderr: io.Discard}
	cmd := a.benchCmd()
	// A bad value each workload refuses once this check has passed.
	sentinel := map[string]struct{ args []string }{
		"commit": {[]string{"--pages", "0"}},
		"tick":   {[]string{"--ticks", "0"}},
		"growth": {[]string{"--growth-batch-pages", "0"}},
	}
	sentinelSays := map[string]string{
		"commit": "--pages must be at least 1, got 0",
		"tick":   "--ticks must be at least 1, got 0",
		"growth": "--growth-batch-pages must be at least 1, got 0",
	}
	cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		readers, ok := benchFlagWorkloads[f.Name]
		if !ok {
			t.Errorf("--%s is not in benchFlagWorkloads: say which workloads read it", f.Name)
			return
		}
		if readers == nil {
			readers = benchWorkloads
		}
		value := f.DefValue
		switch f.Name {
		case "dir":
			value = filepath.Join(t.TempDir(), "bus")
		case "shm-dir":
			value = t.TempDir()
		case "plot":
			value = filepath.Join(t.TempDir(), "charts")
		case "stall-trace":
			value = filepath.Join(t.TempDir(), "t.trace")
		}
		for _, w := range benchWorkloads {
			if f.Name == "workload" {
				value = w
			}
			args := []string{"bench", "--no-progress", "--workload", w, "--" + f.Name + "=" + value}
			t.Run(f.Name+"/"+w, func(t *testing.T) {
				if !slices.Contains(readers, w) {
					// The workload's bad value too: without this check
					// the run stops there, not at a real workload.
					r := runCLI(t, append(args, sentinel[w].args...)...).mustCode(t, exitUsage)
					want := "--" + f.Name + " is read by --workload " + strings.Join(readers, " and ") +
						" only; --workload " + w + " does not read it"
					if !strings.Contains(r.stderr, want) || r.stdout != "" {
						t.Fatalf("bench %q: stderr:\n%s\nstdout:\n%s\nwant %q and nothing on stdout", args, r.stderr, r.stdout, want)
					}
					return
				}
				r := runCLI(t, append(args, sentinel[w].args...)...).mustCode(t, exitUsage)
				if !strings.Contains(r.stderr, sentinelSays[w]) {
					t.Fatalf("bench %q %q: stderr:\n%s\nwant the later bad value refused: %q", args, sentinel[w].args, r.stderr, sentinelSays[w])
				}
			})
		}
	})
}
