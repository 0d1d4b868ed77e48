package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplicateLoadFlagsNeedLoad: --batch, --committers, --pages and
// --rate shape the demonstration load and mean nothing without --load;
// given alone they were dropped silently (the node ran, committing
// nothing). They are a usage error, found before any server starts or
// directory is created.
func TestReplicateLoadFlagsNeedLoad(t *testing.T) {
	for _, flag := range [][]string{
		{"--batch", "10"},
		{"--committers", "2"},
		{"--pages", "16"},
		{"--rate", "1000"},
	} {
		t.Run(flag[0], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "node")
			args := append([]string{"replicate", "--dir", dir, "--duration", "1s", "--status-every", "0"}, flag...)
			r := runCLI(t, args...).mustCode(t, exitUsage)
			if !strings.Contains(r.stderr, flag[0]) || !strings.Contains(r.stderr, "--load") {
				t.Errorf("stderr %q does not say that %s needs --load", r.stderr, flag[0])
			}
			for _, p := range []string{dir, dir + ".nats"} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("a refused replicate created %s (stat: %v)", p, err)
				}
			}
		})
	}
}

// TestReplicateLoadFlagValues: a flag that shapes no load is a usage
// error (exit 2) naming that flag and its value, found before any server
// starts. No flag asks for a number of commits; the counts that would
// make a load commit nothing (0 deltas, committers or pages) are refused
// here. Before, each gave one message naming every flag ("--batch,
// --committers and --pages must be positive ..."), and --rate NaN or
// +Inf was taken (a NaN interval paced nothing).
func TestReplicateLoadFlagValues(t *testing.T) {
	for _, flag := range [][]string{
		{"--batch", "0"},
		{"--committers", "0"},
		{"--pages", "0"},
		{"--rate", "-1"},
		{"--rate", "NaN"},
		{"--rate", "+Inf"},
		{"--duration", "-1s"},
	} {
		t.Run(flag[0]+"="+flag[1], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "node")
			args := append([]string{"replicate", "--dir", dir, "--load", "--status-every", "0"}, flag...)
			if flag[0] != "--duration" {
				// A value taken runs the node: bounded, it then fails
				// the test instead of running until interrupted.
				args = append(args, "--duration", "2s")
			}
			r := runCLI(t, args...).mustCode(t, exitUsage)
			if !strings.Contains(r.stderr, flag[0]+" ") {
				t.Errorf("stderr %q does not name %s", r.stderr, flag[0])
			}
			for _, other := range []string{"--batch", "--committers", "--pages", "--rate", "--duration"} {
				if other != flag[0] && strings.Contains(r.stderr, other+" ") {
					t.Errorf("stderr %q names %s too, which was fine", r.stderr, other)
				}
			}
			for _, p := range []string{dir, dir + ".nats"} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("a refused replicate created %s (stat: %v)", p, err)
				}
			}
		})
	}
}

// TestReplicateLoadNoCommit: a --load run that ends before its first
// commit (one batch of 10 deltas per 100 s, a 3 s run) committed nothing:
// exit 1, no figures, and the reason on stderr (the pace, or that the
// node never led). Before, it printed "load: 0 commits, 0 deltas, 0
// deltas/s ..." and exited 0.
func TestReplicateLoadNoCommit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	r := runCLI(t, "replicate", "--dir", dir, "--load", "--duration", "3s", "--rate", "0.1", "--batch", "10",
		"--committers", "1", "--pages", "16", "--lease-ttl", "1s", "--status-every", "0").mustCode(t, exitFailure)
	if strings.Contains(r.stdout, "load: ") {
		t.Errorf("a load that committed nothing printed figures:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "load: no commit: ") ||
		!strings.Contains(r.stderr, "first commit is due after 1m40s") && !strings.Contains(r.stderr, "never led") {
		t.Errorf("stderr does not say that the load committed nothing and why:\n%s", r.stderr)
	}
}
