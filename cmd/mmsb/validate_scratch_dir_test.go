package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateScratchDir: --dir (the scratch directory of the benchmarks
// that use the disk) must be an existing directory, else a usage error
// naming --dir before any benchmark runs. A missing one failed the memory
// benchmark as if the bus had ("✗ #7: Memory () error: stat ...: no such
// file or directory", "1 of 1 benchmarks failed", exit 1). The control
// runs the same benchmark in an existing directory.
func TestValidateScratchDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir string
		code      int
	}{
		{"missing", filepath.Join(t.TempDir(), "missing"), exitUsage},
		{"a file", file, exitUsage},
		{"existing directory", t.TempDir(), exitOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "validate", "--quick", "--only", "7", "--no-progress", "--dir", tc.dir).mustCode(t, tc.code)
			if tc.code == exitOK {
				return
			}
			if !strings.Contains(r.stderr, "--dir") {
				t.Errorf("stderr %q does not name --dir", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("benchmarks ran:\n%s", r.stdout)
			}
		})
	}
}
