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

// trimmedBus makes a bus of small segments whose log no longer starts at
// LSN 1 (three checkpoints let its start go), and removes the older of
// the two checkpoints kept: one checkpoint, the log from before it, and
// five commits after it.
func trimmedBus(t *testing.T) (dir, ckpt string) {
	t.Helper()
	ctx := context.Background()
	dir = filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, &mmsb.Options{SegmentBytes: 256, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 4; round++ {
		for i := range 5 {
			if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], uint32(i), []byte{byte(round), byte(i)})}); err != nil {
				t.Fatal(err)
			}
		}
		if round < 3 {
			if _, err := bus.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	ckpts, err := filepath.Glob(filepath.Join(dir, "checkpoints", "checkpoint-*.ckpt"))
	if err != nil || len(ckpts) != 2 {
		t.Fatalf("checkpoints %v (%v), want 2", ckpts, err)
	}
	if err := os.Remove(ckpts[0]); err != nil {
		t.Fatal(err)
	}
	return dir, ckpts[1]
}

// TestCheckSaysEachDamageOnce: check reports each damaged place once,
// the first step that meets it in its own words; the replays and
// validators that fail on it again are not counted. One flipped byte in
// the only checkpoint of a bus whose older log is removed gave six
// problems (the checkpoint check, both replays, the integrity, graph and
// invariants validators), and one in the log, two to five. Two damaged
// files stay two problems.
func TestCheckSaysEachDamageOnce(t *testing.T) {
	problems := func(t *testing.T, dir string) checkReport {
		t.Helper()
		r := runCLI(t, "check", "--json", dir).mustCode(t, exitFailure)
		var rep checkReport
		r.decodeJSON(t, &rep)
		return rep
	}
	t.Run("only checkpoint", func(t *testing.T) {
		dir, ckpt := trimmedBus(t)
		flipByte(t, ckpt, 50)
		rep := problems(t, dir)
		if len(rep.Problems) != 1 || rep.Problems[0].File != ckpt || rep.Problems[0].Offset < 0 {
			t.Errorf("check: %d problem(s), want 1, at an offset of %s: %+v", len(rep.Problems), ckpt, rep.Problems)
		}
		r := runCLI(t, "check", dir).mustCode(t, exitFailure)
		if !strings.Contains(r.stdout, "FAILED: 1 problem\n") || !strings.Contains(r.stdout, "recovery:    newest checkpoint + log do not replay") {
			t.Errorf("check's text lacks one problem and what it stops:\n%s", r.stdout)
		}
	})
	t.Run("log after the checkpoint", func(t *testing.T) {
		dir, _ := trimmedBus(t)
		segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
		if err != nil || len(segs) < 2 {
			t.Fatalf("segments %v (%v), want 2 or more", segs, err)
		}
		seg := segs[len(segs)-2] // not the last: no torn tail
		flipByte(t, seg, tlog.SegmentHeaderSize+tlog.FrameHeaderSize+2)
		rep := problems(t, dir)
		if len(rep.Problems) != 1 || rep.Problems[0].File != seg || rep.Problems[0].Offset != tlog.SegmentHeaderSize {
			t.Errorf("check: %d problem(s), want 1, at offset %d of %s: %+v", len(rep.Problems), tlog.SegmentHeaderSize, seg, rep.Problems)
		}
	})
	t.Run("checkpoint and log", func(t *testing.T) {
		tb := newTestBus(t)
		ckpts, _ := filepath.Glob(filepath.Join(tb.dir, "checkpoints", "checkpoint-*.ckpt"))
		segs, _ := filepath.Glob(filepath.Join(tb.dir, "wal", "*.log"))
		if len(ckpts) != 1 || len(segs) != 1 {
			t.Fatalf("checkpoints %v, segments %v: want one of each", ckpts, segs)
		}
		flipByte(t, ckpts[0], 200)
		flipByte(t, segs[0], tlog.SegmentHeaderSize+tlog.FrameHeaderSize+2)
		rep := problems(t, tb.dir)
		files := map[string]int{}
		for _, p := range rep.Problems {
			files[p.File]++
		}
		if len(rep.Problems) != 2 || files[ckpts[0]] != 1 || files[segs[0]] != 1 {
			t.Errorf("check: %d problem(s), want one in each of %s and %s: %+v", len(rep.Problems), ckpts[0], segs[0], rep.Problems)
		}
	})
}
