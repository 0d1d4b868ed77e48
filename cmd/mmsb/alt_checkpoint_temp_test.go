package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAltCheckpointTempIsBusFile: a checkpoint interrupted while written
// under its second temporary name (checkpoint-<LSN>.alt.ckpt.tmp, which
// Create uses when the first holds a directory) is a bus's file, as one
// under the first name is: check and checkpoint say the bus's files were
// lost, naming it, and a command writing a bus into the directory does
// not refuse it as another program's. The .alt name, which does not start
// with a checkpoint's name, was "another program's" file: "no bus ran
// there (another program's directory?)".
func TestAltCheckpointTempIsBusFile(t *testing.T) {
	for _, name := range []string{
		"checkpoint-00000000000000000005.ckpt.tmp",
		"checkpoint-00000000000000000005.alt.ckpt.tmp",
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			noErr(t, os.MkdirAll(filepath.Join(dir, "wal"), 0o755))
			noErr(t, os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755))
			noErr(t, os.WriteFile(filepath.Join(dir, "LOCK"), nil, 0o644))
			noErr(t, os.WriteFile(filepath.Join(dir, "checkpoints", name), []byte("partial"), 0o644))
			for _, cmd := range []string{"check", "checkpoint"} {
				r := runCLI(t, cmd, dir).mustCode(t, exitFailure)
				if !strings.Contains(r.stderr, "a bus ran there and its files were lost") || !strings.Contains(r.stderr, name+" remains") ||
					strings.Contains(r.stderr, "another program") {
					t.Errorf("mmsb %s: stderr %q, want the bus's files lost, naming %s", cmd, r.stderr, name)
				}
			}
			if err := requireBusDirToWrite(dir); err != nil {
				t.Errorf("requireBusDirToWrite refused a directory holding only a bus's files: %v", err)
			}
		})
	}
}

// noErr fails the test at once on a setup step's error.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
