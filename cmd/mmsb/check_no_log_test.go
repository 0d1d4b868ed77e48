package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestCheckNoLog: a directory written by a bus without a log
// (Options.DisableLog) holds checkpoints and an empty wal/ (no wal/ before
// 2026-12-06). check replayed it from its oldest checkpoint, which no log
// leads to the newest, and reported committed operations missing: a sound
// directory failed, and nothing could say what it was. --no-log says it:
// the newest checkpoint's state is checked and the directory passes. The
// controls: the same directory without the flag still fails (an emptied
// log looks the same), and --no-log on a directory with a log is a
// problem, not a way to skip its log. Since checkpoints/log-mode the
// directory says it has no log, and check passes it without the flag;
// one written before that file (removed here) still needs it, and a log
// emptied of its segments (rm DIR/wal/*) fails naming wal/.
func TestCheckNoLog(t *testing.T) {
	ctx := context.Background()
	noLogDir := func(t *testing.T, removeWAL bool) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "data")
		bus, err := mmsb.Open(dir, &mmsb.Options{DisableLog: true, CheckpointBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], uint32(i), []byte{byte(i + 1)})}); err != nil {
				t.Fatal(err)
			}
			if _, err := bus.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
		if removeWAL { // as written before 2026-12-06
			if err := os.Remove(filepath.Join(dir, "wal")); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, "checkpoints", tlog.ModeFileName)); err != nil { // nor had it this
				t.Fatal(err)
			}
		}
		return dir
	}
	withoutMode := func(t *testing.T) string { // a bus without a log before checkpoints/log-mode
		dir := noLogDir(t, false)
		if err := os.Remove(filepath.Join(dir, "checkpoints", tlog.ModeFileName)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	emptied := func(t *testing.T) string { // rm DIR/wal/*
		dir := missingLogBus(t, true)
		names, err := os.ReadDir(filepath.Join(dir, "wal"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.Remove(filepath.Join(dir, "wal", n.Name())); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string
		args []string
		code int
		want string // in stdout
	}{
		{"without a log, --no-log", func(t *testing.T) string { return noLogDir(t, false) }, []string{"--no-log"}, exitOK, "from newest-checkpoint to LSN 4"},
		{"without a log and without wal/, --no-log", func(t *testing.T) string { return noLogDir(t, true) }, []string{"--no-log"}, exitOK, "OK:"},
		{"without a log, not said: its log-mode says it", func(t *testing.T) string { return noLogDir(t, false) }, nil, exitOK, "from newest-checkpoint to LSN 4"},
		{"without a log before log-mode, not said (control)", withoutMode, nil, exitFailure, "committed operations are missing"},
		{"with a log emptied of its segments", emptied, nil, exitFailure, "holds no log segment"},
		{"without wal/, not said, the hint", func(t *testing.T) string { return noLogDir(t, true) }, nil, exitFailure, "check it with --no-log"},
		{"with a log, --no-log (control)", func(t *testing.T) string { return missingLogBus(t, true) }, []string{"--no-log"}, exitFailure, "--no-log, but"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			r := runCLI(t, append(append([]string{"check"}, tc.args...), dir)...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.want) {
				t.Fatalf("check %v: exit %d, want %d with %q in stdout:\n%s\nstderr: %s", tc.args, r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}
