package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestInspectMissingLogDir: `mmsb inspect` of a directory whose wal/ was
// removed listed "(none)" segments, an empty state, and exited 0, reading
// like a bus that never logged anything. Now it says the log directory is
// missing (text and JSON, `log_missing`); once a checkpoint is there, Open
// refuses the directory, and inspect fails saying so (before, it failed
// with the replay's error only). The control is the intact directory,
// which says nothing of a missing log.
func TestInspectMissingLogDir(t *testing.T) {
	for _, tc := range []struct {
		name         string
		checkpointed bool
		removeLog    bool
		json         bool
		code         int
		want         string // in stdout (exit 0) or stderr (exit 1)
		wantMissing  bool   // JSON log_missing
	}{
		// No checkpoint: checkpoints/log-mode says a log held every
		// commit, and a bus with a log keeps a segment, so the files were
		// lost (until 2026-12-07 inspect showed an empty bus, with a note).
		{"no checkpoint, text", false, true, false, exitFailure, "the bus's files are lost", false},
		{"no checkpoint, json", false, true, true, exitFailure, "the bus's files are lost", false},
		{"checkpoint", true, true, false, exitFailure, "has checkpoints/ but no wal/ (%WAL% is missing)", false},
		{"checkpoint, json", true, true, true, exitFailure, "Open refuses this directory", false},
		{"intact (control)", true, false, false, exitOK, "SEGMENT", false},
		{"intact, json (control)", true, false, true, exitOK, `"segments"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := missingLogBus(t, tc.checkpointed)
			wal := filepath.Join(dir, "wal")
			if tc.removeLog {
				if err := os.RemoveAll(wal); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"inspect", dir}
			if tc.json {
				args = []string{"inspect", "--json", dir}
			}
			r := runCLI(t, args...).mustCode(t, tc.code)
			got := r.stdout
			if tc.code != exitOK {
				got = r.stderr
				if r.stdout != "" {
					t.Errorf("a failed inspect printed to stdout:\n%s", r.stdout)
				}
			}
			if want := strings.ReplaceAll(tc.want, "%WAL%", wal); !strings.Contains(got, want) {
				t.Errorf("output lacks %q:\n%s", want, got)
			}
			if !tc.removeLog && strings.Contains(r.stdout, "missing") {
				t.Errorf("intact directory said something is missing:\n%s", r.stdout)
			}
			if tc.json && tc.code == exitOK {
				var rep inspectReport
				r.decodeJSON(t, &rep)
				if rep.LogMissing != tc.wantMissing {
					t.Errorf("log_missing %v, want %v", rep.LogMissing, tc.wantMissing)
				}
			}
			if _, err := os.Stat(wal); tc.removeLog && err == nil {
				t.Errorf("inspect made %s", wal)
			}
		})
	}
}

// TestGraphReadMissingLogDir: graph and read of a directory whose wal/ was
// removed (no checkpoint, so the replay accepted it) showed an empty graph
// and "page not found" with nothing said; then a note on stderr named the
// missing wal/. Since 2026-12-07 the replay refuses it: its
// checkpoints/log-mode says a log held every commit, so the bus's files
// were lost. The intact directory (control) gets neither.
func TestGraphReadMissingLogDir(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		removeLog bool
		args      []string
		code      int
	}{
		{"graph", true, []string{"graph"}, exitFailure},
		{"graph --json", true, []string{"graph", "--json"}, exitFailure},
		{"read", true, []string{"read", "--page", "1"}, exitFailure},
		{"graph (control)", false, []string{"graph"}, exitOK},
		{"read (control)", false, []string{"read", "--page", "1"}, exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			bus, err := mmsb.Open(dir, &mmsb.Options{CheckpointBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}}); err != nil {
				t.Fatal(err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			wal := filepath.Join(dir, "wal")
			if tc.removeLog {
				if err := os.RemoveAll(wal); err != nil {
					t.Fatal(err)
				}
			}
			r := runCLI(t, append(tc.args, dir)...).mustCode(t, tc.code)
			lost := "the bus's files are lost"
			if got := strings.Contains(r.stderr, lost) && strings.Contains(r.stderr, wal); got != tc.removeLog {
				t.Fatalf("stderr says the files are lost, naming %s: %v, want %v:\n%s", wal, got, tc.removeLog, r.stderr)
			}
		})
	}
}
