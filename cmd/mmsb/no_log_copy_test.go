package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestNoLogDirectoryCopiedWithoutWal: a bus without a log leaves wal/
// empty, and copies drop empty directories (object stores, archives,
// git). Such a copy, checkpoints/log-mode saying "no log", was refused by
// inspect, replay --out, checkpoint and (without --no-log) check as a
// directory whose log was removed, though it never had one. It reads now;
// the same directory written with a log is still refused (the control).
func TestNoLogDirectoryCopiedWithoutWal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		noLog   bool
		refused bool
	}{
		{name: "written without a log", noLog: true},
		{name: "written with a log (control)", refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			bus, err := mmsb.Open(dir, &mmsb.Options{DisableLog: tc.noLog, CheckpointBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bus.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 64}}); err != nil {
				t.Fatal(err)
			}
			if _, err := bus.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(dir, "wal")); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"inspect", dir},
				{"check", dir},
				{"replay", dir, "--out", filepath.Join(t.TempDir(), "out")},
			} {
				r := runCLI(t, args...)
				if tc.refused {
					r.mustCode(t, exitFailure)
					if !strings.Contains(r.stdout+r.stderr, "no wal/") {
						t.Errorf("mmsb %s: output lacks \"no wal/\":\n%s%s", args[0], r.stdout, r.stderr)
					}
					continue
				}
				r.mustCode(t, exitOK)
			}
		})
	}
}
