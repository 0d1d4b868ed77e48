package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestReplayFailureSaysWhatNext: read and replay of a directory whose log
// is damaged before its tail failed with the corruption alone, where
// inspect and graph, meeting the same damage, pointed to `mmsb check DIR`
// for every problem. All four say it now; a target the directory does not
// reach (read --at-lsn past its end) is no damage and gets no pointer.
func TestReplayFailureSaysWhatNext(t *testing.T) {
	tb := newTestBus(t)
	segs := segmentFiles(t, tb.dir)
	first := segs[0]
	data, err := os.ReadFile(first)
	noErr(t, err)
	// A byte inside the first record's payload: damage with intact
	// records after it, which no recovery truncates as a torn tail.
	data[len(data)/4] ^= 0xff
	noErr(t, os.WriteFile(first, data, 0o600))
	// The checkpoint covers the damaged record: remove it, so that every
	// replay must read it.
	cks, err := filepath.Glob(filepath.Join(tb.dir, "checkpoints", "*.ckpt"))
	if err != nil || len(cks) == 0 {
		t.Fatalf("no checkpoint in %s (%v)", tb.dir, err)
	}
	for _, ck := range cks {
		noErr(t, os.Remove(ck))
	}

	hint := "(run `mmsb check " + tb.dir + "` for every problem)"
	for _, args := range [][]string{
		{"read", tb.dir, "--page", "1"},
		{"replay", tb.dir, "--out", filepath.Join(t.TempDir(), "out")},
		{"inspect", tb.dir},
		{"graph", tb.dir},
	} {
		r := runCLI(t, args...).mustCode(t, exitFailure)
		if !strings.Contains(r.stderr, "corruption") || !strings.Contains(r.stderr, hint) {
			t.Errorf("mmsb %s: stderr %q, want the corruption and %q", args[0], r.stderr, hint)
		}
	}

	whole := newTestBus(t)
	r := runCLI(t, "read", whole.dir, "--page", "1", "--at-lsn", "999999").mustCode(t, exitFailure)
	if !strings.Contains(r.stderr, "past the last LSN") || strings.Contains(r.stderr, "mmsb check") {
		t.Errorf("read --at-lsn past the end: stderr %q, want the LSN refused without a pointer to check", r.stderr)
	}
}

// TestReplayBeforeHeldHistoryNoCheckPointer: a target before the history
// a healthy bus still holds (its checkpoints removed the log before them,
// as they do) is no damage, and check says OK there; read --at-lsn,
// replay --to-lsn and replay --from-empty sent the operator to `mmsb
// check DIR` "for every problem" all the same. The same target over a
// log with a segment missing (damage) still gets the pointer.
func TestReplayBeforeHeldHistoryNoCheckPointer(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, &mmsb.Options{SegmentBytes: 4 << 10, CheckpointBytes: -1})
	noErr(t, err)
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}})
	noErr(t, err)
	for range 3 { // several rotations, each covered by a checkpoint
		for range 20 {
			_, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, make([]byte, 512))})
			noErr(t, err)
		}
		_, err = bus.Checkpoint(ctx)
		noErr(t, err)
	}
	noErr(t, bus.Close())
	segs := segmentFiles(t, dir)
	first, ok := tlog.ParseSegmentName(filepath.Base(segs[0]))
	if !ok || first <= 2 || len(segs) < 3 {
		t.Fatalf("log segments %v: want three or more, the first past LSN 2 (the log before the checkpoints removed)", segs)
	}
	runCLI(t, "check", dir).mustCode(t, exitOK)

	for _, args := range [][]string{
		{"read", dir, "--page", "1", "--at-lsn", "2"},
		{"replay", dir, "--to-lsn", "2", "--out", filepath.Join(t.TempDir(), "o1")},
		{"replay", dir, "--from-empty", "--out", filepath.Join(t.TempDir(), "o2")},
	} {
		r := runCLI(t, args...).mustCode(t, exitFailure)
		if !strings.Contains(r.stderr, "log no longer holds the requested history") || strings.Contains(r.stderr, "mmsb check") {
			t.Errorf("mmsb %s: stderr %q, want the history not held, without a pointer to check", strings.Join(args, " "), r.stderr)
		}
	}

	// Damage: a segment in the middle removed, replayed over.
	noErr(t, os.Remove(segs[1]))
	last, _ := tlog.ParseSegmentName(filepath.Base(segs[len(segs)-1]))
	r := runCLI(t, "replay", dir, "--to-lsn", strconv.FormatUint(uint64(last)+1, 10), "--out", filepath.Join(t.TempDir(), "o3")).mustCode(t, exitFailure)
	if want := "(run `mmsb check " + dir + "` for every problem)"; !strings.Contains(r.stderr, want) {
		t.Errorf("replay over a missing segment: stderr %q, want %q", r.stderr, want)
	}
}
