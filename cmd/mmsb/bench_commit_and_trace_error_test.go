package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchCommitFailureWithStallTraceError: a bench whose commit failed
// and whose --stall-trace could not be written reported only the trace's
// error, so the commit failure that ended the run was never seen. Both
// are reported now. The commit failure is injected at batch 1, after
// which a file of another program's is put where the trace goes (the
// trace, written two seconds after the first stall, then refuses to
// replace it).
func TestBenchCommitFailureWithStallTraceError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stall.trace")
	other := []byte("another program's file")
	injected := errors.New("injected commit failure")
	benchCommitFault = func(b int64) error {
		if b < 1 {
			return nil
		}
		if err := os.WriteFile(path, other, 0o644); err != nil {
			t.Error(err)
		}
		return injected
	}
	t.Cleanup(func() { benchCommitFault = nil })

	r := runCLI(t, "bench", "--no-progress", "--pages", "8", "--count", "64", "--batch", "8",
		"--concurrency", "1", "--stall-trace", path, "--stall-threshold", "0s").mustCode(t, exitFailure)
	if strings.Contains(r.stderr, "flight recorder") {
		t.Skipf("no flight recorder in this test process: %s", r.stderr) // go test -trace holds the tracer
	}
	for _, want := range []string{"commit batch 1: " + injected.Error(), "--stall-trace " + path} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q, want it to say %q", r.stderr, want)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != string(other) {
		t.Errorf("%s was replaced (%q)", path, b)
	}
}
