package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMarkerBesideOtherFilesIsNoBus: filesNoBusMakes stopped at a
// replication node's marker (replicate-stream, replicate-term), so a
// directory holding an empty LOCK, a marker and another program's files
// counted as a bus that held nothing: check and checkpoint accepted it
// with the held-nothing warning. The marker now counts only beside a
// bus's own files: such a directory is refused as the same directory
// without the marker is, and a marker beside a bus's files alone still
// makes a bus that held nothing.
func TestMarkerBesideOtherFilesIsNoBus(t *testing.T) {
	for _, marker := range []string{"replicate-stream", "replicate-term"} {
		t.Run(marker, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			makeTree(t, dir, map[string]string{"LOCK": "", marker: "x\n", "notes.txt": "a user's notes", "photos/": ""})
			if heldNothing(dir) {
				t.Errorf("%s: an empty LOCK, %s and a user's files held nothing, as a bus", dir, marker)
			}
			for _, cmd := range []string{"check", "checkpoint"} {
				r := runCLI(t, cmd, dir)
				if r.code == exitOK || strings.Contains(r.stdout+r.stderr, heldNothingWarning(dir)) || !strings.Contains(r.stderr, "not an MMSB data directory") {
					t.Errorf("%s %s: exit %d, want it refused, not a bus that held nothing:\n%s%s", cmd, dir, r.code, r.stdout, r.stderr)
				}
			}

			ours := filepath.Join(t.TempDir(), "data")
			makeTree(t, ours, map[string]string{"LOCK": "", marker: "x\n", "wal/": "", "checkpoints/": ""})
			if !heldNothing(ours) {
				t.Errorf("%s: an empty LOCK, %s, wal/ and checkpoints/ is not a bus that held nothing", ours, marker)
			}
		})
	}
}
