package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCPUProfileNeverReplacesOtherFiles: the profile is renamed over
// --cpuprofile at the end, so `mmsb check DIR --cpuprofile
// DIR/wal/<segment>` (a tab completion's slip) replaced the bus's only
// log segment with a CPU profile, losing every commit, and exited 0; a
// bus's LOCK, or a device such as /dev/null, would be replaced the same
// way, and bench --stall-trace truncated such a file. A --cpuprofile that
// exists and is not an earlier profile now fails the command before it
// runs (exit 1, naming it), changing nothing, and such a --stall-trace is
// a usage error; an earlier profile is still replaced, as documented.
func TestCPUProfileNeverReplacesOtherFiles(t *testing.T) {
	tb := newTestBus(t)
	seg := filepath.Join(tb.dir, "wal", "00000000000000000001.log")
	for _, path := range []string{seg, filepath.Join(tb.dir, "LOCK")} {
		before := treeOf(t, tb.dir)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "--cpuprofile", path, "check", tb.dir).mustCode(t, exitFailure)
		if !strings.Contains(r.stderr, "--cpuprofile "+path+": exists and is not an earlier output of this flag") || r.stdout != "" {
			t.Errorf("--cpuprofile %s: stderr %q (stdout %q), want it refused as no profile", path, r.stderr, r.stdout)
		}
		if after, _ := os.ReadFile(path); !slices.Equal(after, data) {
			t.Errorf("%s was replaced (%d bytes, was %d)", path, len(after), len(data))
		}
		if after := treeOf(t, tb.dir); !slices.Equal(before, after) {
			t.Errorf("the refused command changed its directory:\nbefore %q\nafter  %q", before, after)
		}
	}
	if err := checkProfileReplaceable(os.DevNull); !errors.Is(err, errNotAProfile) {
		t.Errorf("%s: %v, want errNotAProfile", os.DevNull, err)
	}
	// bench --stall-trace truncated its file the same way (a usage error).
	r := runCLI(t, "bench", "--no-progress", "--pages", "8", "--count", "16", "--stall-trace", seg).mustCode(t, exitUsage)
	if !strings.Contains(r.stderr, "--stall-trace "+seg+": exists and is not an earlier output of this flag") {
		t.Errorf("--stall-trace %s: stderr %q, want it refused", seg, r.stderr)
	}
	// An earlier profile is replaced, a second run's profile too.
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	for range 2 {
		runCLI(t, "--cpuprofile", prof, "check", tb.dir).mustCode(t, exitOK)
		if st, err := os.Stat(prof); err != nil || st.Size() == 0 {
			t.Fatalf("no profile at %s: %v", prof, err)
		}
	}
}
