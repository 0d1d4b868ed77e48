package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestNonDirectoryBusSubdirNamed: a directory holding a wal/ (or a
// checkpoints/) of another program's and a file named checkpoints (or
// wal) holds no bus. busFilesRead counted the file, which cannot be
// listed (ENOTDIR), as a bus's files: checkpoint wrote LOCK there and
// failed with "mkdir .../checkpoints: not a directory", and check,
// inspect and graph reported the "damage" of a bus that never ran there.
// Each refuses it now as no bus, naming the file that is no directory,
// and changes nothing.
func TestNonDirectoryBusSubdirNamed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dirSub  string // a directory, holding a file of another program's
		fileSub string // a regular file
	}{
		{"checkpoints is a file", "wal", "checkpoints"},
		{"wal is a file", "checkpoints", "wal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "other")
			noErr(t, os.MkdirAll(filepath.Join(dir, tc.dirSub), 0o755))
			noErr(t, os.WriteFile(filepath.Join(dir, tc.dirSub, "notes.txt"), []byte("x"), 0o644))
			noErr(t, os.WriteFile(filepath.Join(dir, tc.fileSub), []byte("not ours"), 0o644))
			before := listTree(t, dir)
			for _, args := range [][]string{{"checkpoint"}, {"check"}, {"inspect"}, {"graph"}, {"read", "--page", "1"},
				{"replay", "--out", filepath.Join(t.TempDir(), "out")}} {
				cmd := args[0]
				r := runCLI(t, append(args, dir)...).mustCode(t, exitFailure)
				for _, want := range []string{"not an MMSB data directory: " + dir, "its " + tc.fileSub + " is not a directory", "no bus ran there"} {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("mmsb %s: stderr %q, want it to say %q", cmd, r.stderr, want)
					}
				}
				if after := listTree(t, dir); !slices.Equal(after, before) {
					t.Fatalf("mmsb %s changed %s:\nbefore %q\nafter  %q", cmd, dir, before, after)
				}
			}
		})
	}
}
