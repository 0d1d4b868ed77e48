package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestCheckpointNotesSkippedCheckpoint: `mmsb checkpoint` of a directory
// whose newest checkpoint is damaged recovered from the older one and the
// log, as documented, and printed nothing about it; its own checkpoint
// then removed the damaged file (a skipped checkpoint is not one of the
// two kept), so that the operator never learnt that a file on the disk
// had been damaged. It says so now on stderr, naming the file and the
// reason, and still exits 0 (nothing committed is lost).
func TestCheckpointNotesSkippedCheckpoint(t *testing.T) {
	dir, newest := damagedNewestCheckpoint(t)
	r := runCLI(t, "checkpoint", dir).mustCode(t, exitOK)
	if !strings.Contains(r.stderr, "passed over a checkpoint that does not load") || !strings.Contains(r.stderr, newest) {
		t.Fatalf("checkpoint over a damaged newest checkpoint says nothing of it on stderr:\n%s", r.stderr)
	}
	if _, err := os.Stat(newest); !os.IsNotExist(err) {
		t.Errorf("the damaged checkpoint %s is still there after the checkpoint (%v): the note says it removes it", newest, err)
	}
	runCLI(t, "check", "--no-progress", dir).mustCode(t, exitOK)
}

// TestCheckpointBadLogModeAdvice: `mmsb checkpoint` of a directory whose
// checkpoints/log-mode does not decode failed with the bus's error, which
// says to remove the file, followed by the advice for a damaged log: open
// it with Options.Repair, "accepting the loss". Nothing is lost there,
// and Repair is not the way: the advice now names the file's role instead.
// Following the error's own advice opens the directory.
func TestCheckpointBadLogModeAdvice(t *testing.T) {
	dir, bus, _ := openWriter(t)
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	mode := filepath.Join(dir, "checkpoints", tlog.ModeFileName)
	if err := os.WriteFile(mode, []byte("junk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "checkpoint", dir).mustCode(t, exitFailure)
	if !strings.Contains(r.stderr, "remove it") || strings.Contains(r.stderr, "accepting the loss") || !strings.Contains(r.stderr, "Repair is not needed") {
		t.Fatalf("checkpoint of a directory with a damaged log-mode file:\n%s", r.stderr)
	}
	if err := os.Remove(mode); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "checkpoint", dir).mustCode(t, exitOK)
	runCLI(t, "check", "--no-progress", dir).mustCode(t, exitOK)
}
