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

// TestValidateOutputDirsCheckedFirst: --report and --history name
// directories written after the run; one that can never be a directory
// (a file, or below one) is a usage error naming the flag before any
// benchmark runs, and nothing is created. It failed only after the run
// ("harness: report: mkdir ...: not a directory", exit 1). The controls
// are directories that do not exist yet: made at the end.
func TestValidateOutputDirsCheckedFirst(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--report", "--history"} {
		for _, tc := range []struct {
			name, dir string
			code      int
		}{
			{"a file", file, exitUsage},
			{"below a file", filepath.Join(file, "sub"), exitUsage},
			{"a new directory", filepath.Join(base, flag[2:], "new"), exitOK},
		} {
			t.Run(flag+" "+tc.name, func(t *testing.T) {
				r := runCLI(t, "validate", "--quick", "--only", "4", "--no-progress", flag, tc.dir).mustCode(t, tc.code)
				if tc.code == exitOK {
					if _, err := os.Stat(tc.dir); err != nil {
						t.Errorf("%s %s was not written: %v", flag, tc.dir, err)
					}
					return
				}
				if !strings.Contains(r.stderr, flag) || !strings.Contains(r.stderr, "usage") {
					t.Errorf("stderr %q does not name %s as a usage error", r.stderr, flag)
				}
				if r.stdout != "" {
					t.Errorf("benchmarks ran:\n%s", r.stdout)
				}
			})
		}
	}
}
