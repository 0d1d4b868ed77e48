package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReadAtLSNZero: --at-lsn 0 is a usage error naming the flag. 0 is
// also the flag's "not given", so --at-lsn 0 printed the latest state (as
// if the flag were absent), where the state at LSN 0, before every
// operation, holds no page: Bus.ReadAt and the C API refuse LSN 0. The
// controls read the latest state without the flag and an early state with
// --at-lsn 1, the LSN that created the first page (read at the end of
// its batch, LSN 2).
func TestReadAtLSNZero(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	runCLI(t, "bench", "--no-progress", "--dir", dir, "--pages", "2", "--page-size", "16", "--delta-size", "8", "--count", "20").mustCode(t, exitOK)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string // in stderr for a usage error, in stdout otherwise
	}{
		{"at-lsn 0", []string{"--at-lsn", "0"}, exitUsage, "--at-lsn 0: LSN 0 is before every operation"},
		{"at-lsn=0 f64", []string{"--at-lsn=0", "--f64"}, exitUsage, "--at-lsn 0: LSN 0 is before every operation"},
		{"latest", nil, exitOK, "source files (state at LSN 22)"},
		// LSN 1 is inside the batch that created both pages: the state
		// read is the batch's end (docs/cli.md).
		{"at-lsn 1", []string{"--at-lsn", "1"}, exitOK, "page 1  size 16  epoch 0  last LSN 1  source files (state at LSN 2)"},
		// Past the last LSN: exit 1 naming the last LSN, as replay
		// --to-lsn (docs/cli.md): the flag is well formed, the
		// directory does not hold that state (yet: a writer may).
		{"past the last", []string{"--at-lsn", "99"}, exitFailure, "replay to LSN 99, past the last LSN 22 the directory holds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"read", dir, "--page", "1"}, c.args...)...).mustCode(t, c.code)
			out := r.stdout
			if c.code != exitOK {
				out = r.stderr
				if r.stdout != "" {
					t.Errorf("a failed read printed on stdout: %q", r.stdout)
				}
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("read %v: output %q, want it to contain %q", c.args, out, c.want)
			}
		})
	}
}
