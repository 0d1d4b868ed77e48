package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestLockWithContentIsNoBus: a LOCK alone is read as a bus that held
// nothing (heldNothing), and checkpoint then makes a bus there. A bus's
// LOCK is regular and empty: it only ever takes a lock on it. One that
// holds bytes (a pid, as many programs write into their lock file) is
// another program's: check, inspect, graph and checkpoint accepted such
// a directory, and checkpoint wrote wal/, checkpoints/ and a segment
// into it, exiting 0. Refused now, changed by nothing, as a LOCK that is
// a symbolic link (even to an empty file), a named pipe or a directory
// is; replay --out, which writes only its output, is refused too.
func TestLockWithContentIsNoBus(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, lock string)
	}{
		{"LOCK holding a pid", func(t *testing.T, lock string) {
			if err := os.WriteFile(lock, []byte("12345\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"LOCK a link to an empty file", func(t *testing.T, lock string) {
			target := filepath.Join(t.TempDir(), "empty")
			if err := os.WriteFile(target, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, lock); err != nil {
				t.Fatal(err)
			}
		}},
		{"LOCK a named pipe", func(t *testing.T, lock string) {
			if err := syscall.Mkfifo(lock, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "data")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tc.make(t, filepath.Join(dir, "LOCK"))
			before := listTree(t, dir)
			out := filepath.Join(base, "out")
			for _, args := range [][]string{{"check", dir}, {"inspect", dir}, {"graph", dir}, {"checkpoint", dir}, {"replay", dir, "--out", out}} {
				r := runCLI(t, args...)
				if r.code != exitFailure || !strings.Contains(r.stdout+r.stderr, "not an MMSB data directory") {
					t.Errorf("mmsb %s: exit %d, want %d and \"not an MMSB data directory\":\n%s%s", args[0], r.code, exitFailure, r.stdout, r.stderr)
				}
			}
			if after := listTree(t, dir); !slices.Equal(after, before) {
				t.Errorf("refused, but changed: %q, was %q", after, before)
			}
			if _, err := os.Lstat(out); err == nil {
				t.Errorf("replay --out of a directory that is no bus wrote %s", out)
			}
		})
	}
}
