package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestMissingLogAdviceFollowsLogMode: a directory whose wal/ was removed
// is refused by check, checkpoint and inspect, which said what to do:
// "restore wal/, or create it empty to accept the loss". In a directory
// written since checkpoints/log-mode exists (mode "log"), an empty wal/
// is refused in turn as a log emptied of its segments, so an operator who
// followed the advice met a second refusal. There the advice is now
// Options.Repair, which opens it; creating wal/ empty stays the advice for
// a directory without the log-mode file, where it works. check also
// counted the directory's whole checkpoint invalid ("checkpoints: 0 of 1
// valid"): its loader check replayed the checkpoint alone, and that replay
// was refused for the missing log.
func TestMissingLogAdviceFollowsLogMode(t *testing.T) {
	for _, c := range []struct {
		name     string
		keepMode bool
	}{
		{"log-mode says log", true},
		{"no log-mode file", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := missingLogBus(t, true)
			wal := filepath.Join(dir, "wal")
			if err := os.RemoveAll(wal); err != nil {
				t.Fatal(err)
			}
			if !c.keepMode {
				if err := os.Remove(filepath.Join(dir, "checkpoints", tlog.ModeFileName)); err != nil {
					t.Fatal(err)
				}
			}
			check := runCLI(t, "check", "--no-progress", dir).mustCode(t, exitFailure)
			if !strings.Contains(check.stdout, "checkpoints: 1 of 1 valid") {
				t.Errorf("check counts the whole checkpoint of a directory without wal/ invalid:\n%s", check.stdout)
			}
			ckpt := runCLI(t, "checkpoint", dir).mustCode(t, exitFailure)
			insp := runCLI(t, "inspect", dir).mustCode(t, exitFailure)
			for what, out := range map[string]string{"check": check.stdout, "checkpoint": ckpt.stderr, "inspect": insp.stderr} {
				if !strings.Contains(out, "restore "+wal) {
					t.Errorf("%s does not say to restore %s:\n%s", what, wal, out)
				}
				empty := strings.Contains(out, "create it empty") || strings.Contains(out, "creating it empty")
				if c.keepMode && (empty || !strings.Contains(out, "Options.Repair")) {
					t.Errorf("%s of a directory whose log-mode says log: advice to create wal/ empty (refused as an emptied log), or no Options.Repair:\n%s", what, out)
				}
				if !c.keepMode && !empty {
					t.Errorf("%s of a directory without log-mode does not say that an empty wal/ accepts the loss:\n%s", what, out)
				}
			}

			// The advice given opens the directory.
			if c.keepMode {
				bus, err := mmsb.Open(dir, &mmsb.Options{Repair: true})
				if err != nil {
					t.Fatalf("Open with Repair, as advised: %v", err)
				}
				if err := bus.Close(); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Mkdir(wal, 0o700); err != nil {
				t.Fatal(err)
			}
			runCLI(t, "checkpoint", dir).mustCode(t, exitOK)
		})
	}
}
