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
