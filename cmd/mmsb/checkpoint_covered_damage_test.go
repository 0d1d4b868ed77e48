package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mmsb checkpoint of a directory whose log has a damaged record that a
// checkpoint covers: recovery skips it and the checkpoint is taken, with a
// note naming the record; mmsb check still reports the damage. (Open
// refused the directory: "corruption in ... record checksum mismatch".)
func TestCheckpointCoveredDamageNoted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	runCLI(t, "bench", "--dir", dir, "--pages", "50", "--count", "50000", "--checkpoint-bytes", "100000", "--no-verify").mustCode(t, exitOK)
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff // in the first half of the log: the newest checkpoint is at LSN 49050 of 50050
	if err := os.WriteFile(segs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "checkpoint", dir).mustCode(t, exitOK)
	if !strings.Contains(r.stderr, "recovery skipped 1 damaged log record(s) that a checkpoint covers") {
		t.Fatalf("checkpoint's stderr lacks the covered-damage note:\n%s", r.stderr)
	}
	r = runCLI(t, "check", dir).mustCode(t, exitFailure)
	if !strings.Contains(r.stdout, "record checksum mismatch") {
		t.Fatalf("check does not report the damage:\n%s", r.stdout)
	}
}
