package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReadCommandsNameDamagedCheckpoint: a checkpoint that does not load
// (cut short), beside a log that leads from LSN 1, is passed over by the
// replay that graph, replay, read and inspect run, which come to the
// whole state: they exit 0, as before, but now name the damaged file and
// why on stderr, as the checkpoint command does; they said nothing of it
// (read until 2026-12-07 too; inspect marked it damaged in its report
// only). check reports it as a problem (exit 1). None of them changes
// the directory.
func TestReadCommandsNameDamagedCheckpoint(t *testing.T) {
	tb := newTestBus(t)
	names, err := filepath.Glob(filepath.Join(tb.dir, "checkpoints", "checkpoint-*.ckpt"))
	if err != nil || len(names) != 1 {
		t.Fatalf("checkpoints %q (%v), want one", names, err)
	}
	ckpt := names[0]
	st, err := os.Stat(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(ckpt, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, tb.dir)
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"graph", tb.dir}, exitOK},
		{[]string{"replay", tb.dir, "--out", out}, exitOK},
		{[]string{"inspect", tb.dir}, exitOK},
		{[]string{"read", tb.dir, "--page", "1"}, exitOK},
		{[]string{"check", tb.dir}, exitFailure},
	} {
		r := runCLI(t, tc.args...).mustCode(t, tc.code)
		text := r.stdout + r.stderr
		if !strings.Contains(text, filepath.Base(ckpt)) {
			t.Errorf("mmsb %s does not name the damaged %s:\n%s", tc.args[0], filepath.Base(ckpt), text)
		}
		if tc.args[0] != "check" {
			if !strings.Contains(r.stderr, "note: recovery passed over a checkpoint that does not load") || !strings.Contains(r.stderr, ckpt) {
				t.Errorf("mmsb %s: stderr lacks the note naming %s:\n%s", tc.args[0], ckpt, r.stderr)
			}
		}
		if after := listTree(t, tb.dir); !slices.Equal(after, before) {
			t.Fatalf("mmsb %s changed the directory: %q, was %q", tc.args[0], after, before)
		}
	}
}
