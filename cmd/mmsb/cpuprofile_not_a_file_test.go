package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCPUProfileNotAFileFailsFirst: a --cpuprofile that cannot receive the
// profile fails the command before it does anything. A directory there was
// found only at the final rename: `checkpoint` took its checkpoint and
// printed it, then exited 1 with "rename ...: file exists". The missing
// parent directory is the control: it always failed first.
func TestCPUProfileNotAFileFailsFirst(t *testing.T) {
	tests := []struct {
		name string
		prof func(t *testing.T) string
	}{
		{"directory with files", func(t *testing.T) string {
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, "keep"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{"empty directory", func(t *testing.T) string { return t.TempDir() }},
		{"missing parent directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing", "cpu.prof") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBus(t)
			before := treeOf(t, tb.dir)
			prof := tc.prof(t)
			r := runCLI(t, "--cpuprofile", prof, "checkpoint", tb.dir).mustCode(t, exitFailure)
			if !strings.Contains(r.stderr, "--cpuprofile "+prof) {
				t.Errorf("stderr %q does not name --cpuprofile %s", r.stderr, prof)
			}
			if r.stdout != "" {
				t.Errorf("the command ran and printed:\n%s", r.stdout)
			}
			if after := treeOf(t, tb.dir); !slices.Equal(before, after) {
				t.Errorf("the command ran and changed its directory:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}
