package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckpointWarnsOfHeldNothing: checkpoint accepts a LOCK beside
// nothing a bus reads as a bus that held nothing, as check does, and its
// Open makes a new bus there whose commits take the LSNs from 1 again.
// check warns of what it cannot tell apart (a bus from before the
// log-mode file whose wal/ was emptied); checkpoint said nothing. It
// gives check's warning now, on stderr (its --json output on stdout
// stays one object), before it changes anything; a bus that holds a
// segment gets none.
func TestCheckpointWarnsOfHeldNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"LOCK alone", map[string]string{"LOCK": ""}},
		{"LOCK beside empty wal/ and checkpoints/", map[string]string{"LOCK": "", "wal/": "", "checkpoints/": ""}},
	} {
		for _, jsonOut := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "data")
				makeTree(t, dir, tc.files)
				want := "warning: " + dir + ": " + heldNothingWarning(dir) + "\n"
				args := []string{"checkpoint", dir}
				if jsonOut {
					args = append(args, "--json")
				}
				r := runCLI(t, args...)
				if r.code != exitOK || !strings.Contains(r.stderr, want) {
					t.Fatalf("mmsb %s: exit %d, want %d and on stderr %q:\n%s%s", strings.Join(args, " "), r.code, exitOK, want, r.stdout, r.stderr)
				}
				if jsonOut {
					var res checkpointResult
					r.decodeJSON(t, &res)
				}
				// A bus now: the next checkpoint warns of nothing.
				if r := runCLI(t, "checkpoint", dir); r.code != exitOK || strings.Contains(r.stderr, "warning:") {
					t.Fatalf("second checkpoint: exit %d, want %d and no warning:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
				}
			})
		}
	}
}
