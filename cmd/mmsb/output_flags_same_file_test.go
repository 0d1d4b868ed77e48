package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOutputFlagsNamingOneFileRefused: two output flags that would write
// the same file, however spelled (./x and x, a symbolic link to the
// directory, a hard link to an existing file), are a usage error naming
// both (exit 2) before anything runs: nothing is written, and an earlier
// file there is left as it was. bench --cpuprofile P --stall-trace P ran
// the whole bench, kept the profile under its temporary name and exited 1;
// validate --report DIR --cpuprofile DIR/index.html ran every benchmark
// first. Distinct paths are not refused (the control).
func TestOutputFlagsNamingOneFileRefused(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("real", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", "link"); err != nil {
		t.Fatal(err)
	}
	const earlier = "\x1f\x8b an earlier profile"
	if err := os.WriteFile("earlier.prof", []byte(earlier), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link("earlier.prof", "hard.prof"); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, dir)
	bench := []string{"bench", "--count", "10", "--pages", "4"}
	for _, tc := range []struct {
		name string
		args []string
		want string // in the refusal, beside both flags
	}{
		{"same spelling", append([]string{"--cpuprofile", "p.prof", "--stall-trace", "p.prof"}, bench...), "name the same file"},
		{"./x and x", append([]string{"--cpuprofile", "p.prof", "--stall-trace", "./p.prof"}, bench...), "name the same file"},
		{"absolute and relative", append([]string{"--cpuprofile", filepath.Join(dir, "p.prof"), "--stall-trace", "real/../p.prof"}, bench...), "name the same file"},
		{"through a linked directory", append([]string{"--cpuprofile", "real/p.prof", "--stall-trace", "link/p.prof"}, bench...), "name the same file"},
		{"hard link", append([]string{"--cpuprofile", "earlier.prof", "--stall-trace", "hard.prof"}, bench...), "name the same file"},
		{"a chart of --plot", append([]string{"--cpuprofile", "plots/growth-rate-vs-pages.png", "--plot", "plots", "--workload", "growth"}, bench...), "would both write plots/growth-rate-vs-pages.png"},
		{"the page of --report", []string{"--cpuprofile", "link/index.html", "validate", "--quick", "--report", "real"}, "would both write real/index.html"},
		{"the file of --history", []string{"--cpuprofile", "./h/history.jsonl", "validate", "--quick", "--history", "h"}, "would both write h/history.jsonl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			out := r.stdout + r.stderr
			r.mustCode(t, exitUsage)
			if !strings.Contains(out, tc.want) || !strings.Contains(out, "--cpuprofile ") {
				t.Errorf("refusal %q: want %q and both flags", out, tc.want)
			}
			if after := listTree(t, dir); !slices.Equal(after, before) {
				t.Errorf("refused, but the directory changed: %q, was %q", after, before)
			}
		})
	}
	t.Run("control: distinct files", func(t *testing.T) {
		r := runCLI(t, append([]string{"--cpuprofile", "a.prof", "--stall-trace", "link/b.trace"}, bench...)...)
		r.mustCode(t, exitOK)
		if _, err := os.Stat("a.prof"); err != nil {
			t.Errorf("the profile: %v", err)
		}
	})
}
