package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCPUProfileUntouchedOnUsageError: a usage error means nothing was
// attempted (docs/cli.md), so --cpuprofile FILE must neither be created
// nor, when it exists (the profile of an earlier run), be truncated; and
// nothing else is left in its directory.
func TestCPUProfileUntouchedOnUsageError(t *testing.T) {
	const earlierProfile = "\x1f\x8b an earlier profile"
	tb := newTestBus(t)
	for _, tc := range []struct {
		name     string
		existing bool
		args     []string
	}{
		{"bad flag value, new file", false, []string{"bench", "--pages", "0"}},
		{"bad flag value, existing file", true, []string{"bench", "--pages", "0"}},
		{"conflicting flags, existing file", true, []string{"replay", tb.dir, "--out", filepath.Join(t.TempDir(), "o"), "--to-lsn", "3", "--to-time", "5"}},
		{"missing --out, new file", false, []string{"replay", tb.dir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			prof := filepath.Join(dir, "cpu.prof")
			if tc.existing {
				// gzip's magic first, as pprof writes: --cpuprofile
				// replaces nothing else (TestCPUProfileNeverReplacesOtherFiles).
				if err := os.WriteFile(prof, []byte(earlierProfile), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			runCLI(t, append([]string{"--cpuprofile", prof}, tc.args...)...).mustCode(t, exitUsage)
			b, err := os.ReadFile(prof)
			switch {
			case tc.existing && string(b) != earlierProfile:
				t.Errorf("a usage error rewrote the existing %s (now %d bytes, %v)", prof, len(b), err)
			case !tc.existing && !os.IsNotExist(err):
				t.Errorf("a usage error created %s (%d bytes, %v)", prof, len(b), err)
			}
			var names []string
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				names = append(names, e.Name())
			}
			want := []string{}
			if tc.existing {
				want = []string{"cpu.prof"}
			}
			if !slices.Equal(names, want) && (len(names) != 0 || len(want) != 0) {
				t.Errorf("left in the profile's directory: %q, want %q", names, want)
			}
		})
	}
}
