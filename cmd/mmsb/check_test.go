package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// segmentFiles returns the log segments of a data directory, in order.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments in %s (%v)", dir, err)
	}
	return segs
}

// flipByte inverts one byte of a file.
func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off >= int64(len(b)) {
		t.Fatalf("%s has %d bytes, cannot flip offset %d", path, len(b), off)
	}
	b[off] ^= 0xFF
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckClean(t *testing.T) {
	tb := newTestBus(t)
	r := runCLI(t, "check", tb.dir).mustCode(t, exitOK)
	if !strings.Contains(r.stdout, "OK: "+tb.dir) || strings.Contains(r.stdout, "PROBLEM") {
		t.Fatalf("clean check output:\n%s", r.stdout)
	}
	r = runCLI(t, "check", "--json", tb.dir).mustCode(t, exitOK)
	var rep checkReport
	r.decodeJSON(t, &rep)
	if !rep.OK || len(rep.Problems) != 0 || len(rep.Segments) == 0 || len(rep.Checkpoints) != 1 || !rep.Checkpoints[0].OK {
		t.Fatalf("%+v", rep)
	}
	if rep.Replay == nil || rep.Replay.From != "empty" || rep.Replay.LSN != uint64(tb.lastLSN) ||
		rep.Replay.StateHash != hash64(tb.finalHash) || rep.Replay.RecoveryHash != rep.Replay.StateHash ||
		rep.Replay.Pages != 5 || rep.Replay.Edges != 3 || rep.Replay.Bindings != 1 {
		t.Fatalf("replay %+v, want LSN %d hash %s", rep.Replay, tb.lastLSN, hash64(tb.finalHash))
	}
}

func TestCheckCorruptLog(t *testing.T) {
	tb := newTestBus(t)
	seg := segmentFiles(t, tb.dir)[0]
	// A byte inside the first record's payload: its CRC fails, and the
	// records after it still frame, so recovery cannot treat it as a tail.
	flipByte(t, seg, tlog.SegmentHeaderSize+24)
	r := runCLI(t, "check", tb.dir).mustCode(t, exitFailure)
	if !strings.Contains(r.stdout, "PROBLEM "+seg) {
		t.Fatalf("problem does not name %s:\n%s", seg, r.stdout)
	}
	if !strings.Contains(r.stderr, " found in ") {
		t.Fatalf("stderr: %q", r.stderr)
	}
	r = runCLI(t, "check", "--json", tb.dir).mustCode(t, exitFailure)
	var rep checkReport
	r.decodeJSON(t, &rep)
	if rep.OK || len(rep.Problems) == 0 {
		t.Fatalf("%+v", rep)
	}
	if p := rep.Problems[0]; p.File != seg || p.Offset != tlog.SegmentHeaderSize || p.Reason == "" {
		t.Fatalf("first problem %+v, want %s at offset %d", p, seg, tlog.SegmentHeaderSize)
	}
	// check modified nothing: the corruption is still there.
	runCLI(t, "check", tb.dir).mustCode(t, exitFailure)
}

func TestCheckCorruptCheckpoint(t *testing.T) {
	tb := newTestBus(t)
	list, err := checkpoint.List(nil, filepath.Join(tb.dir, "checkpoints"))
	if err != nil || len(list) != 1 {
		t.Fatalf("checkpoints %v (%v)", list, err)
	}
	flipByte(t, list[0].Path, list[0].Size-20)
	r := runCLI(t, "check", "--json", tb.dir).mustCode(t, exitFailure)
	var rep checkReport
	r.decodeJSON(t, &rep)
	found := false
	for _, p := range rep.Problems {
		if p.File == list[0].Path {
			found = true
		}
	}
	if !found || rep.Checkpoints[0].OK {
		t.Fatalf("corrupt checkpoint not reported: %+v", rep)
	}
}

func TestCheckTornTail(t *testing.T) {
	tb := newTestBus(t)
	segs := segmentFiles(t, tb.dir)
	last := segs[len(segs)-1]
	f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{1, 2, 3}); err != nil { // half a frame header
		t.Fatal(err)
	}
	f.Close()
	r := runCLI(t, "check", tb.dir).mustCode(t, exitFailure)
	if !strings.Contains(r.stdout, "torn tail") || !strings.Contains(r.stdout, last) {
		t.Fatalf("torn tail not reported:\n%s", r.stdout)
	}
	// Opening the bus repairs it; check is then clean.
	bus, err := mmsb.Open(tb.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	bus.Close()
	runCLI(t, "check", tb.dir).mustCode(t, exitOK)
}

func TestCheckLogBeforeCheckpointRemoved(t *testing.T) {
	// Three checkpoints and small segments let the bus delete the start of
	// the log: check must then replay from the oldest checkpoint.
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	bus, err := mmsb.Open(dir, &mmsb.Options{SegmentBytes: 256, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	removed := 0
	for i := 0; i < 3; i++ {
		for j := 0; j < 20; j++ {
			if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, uint32(j), []byte{byte(i), byte(j), 1, 2, 3, 4, 5, 6})}); err != nil {
				t.Fatal(err)
			}
		}
		info, err := bus.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		removed += info.SegmentsRemoved
	}
	want := hash64(hashOf(t, bus))
	bus.Close()
	if removed == 0 {
		t.Fatal("setup: no segment was removed")
	}
	r := runCLI(t, "check", "--json", dir).mustCode(t, exitOK)
	var rep checkReport
	r.decodeJSON(t, &rep)
	if rep.Replay.From != "oldest-checkpoint" || rep.Replay.StateHash != want {
		t.Fatalf("%+v, want hash %s", rep.Replay, want)
	}
}

func TestProblemFromError(t *testing.T) {
	tests := []struct {
		err  error
		want checkProblem
	}{
		{&corruption.Error{File: "a.log", Offset: 7, Reason: "bad"}, checkProblem{File: "a.log", Offset: 7}},
		{&corruption.Error{File: "c.ckpt", Offset: 9, Reason: "bad"}, checkProblem{File: "c.ckpt", Offset: 9}},
		{errors.New("disk on fire"), checkProblem{File: "dir", Offset: -1}},
	}
	for _, tc := range tests {
		got := problemFromError("dir", tc.err)
		if got.File != tc.want.File || got.Offset != tc.want.Offset || got.Reason == "" {
			t.Errorf("problemFromError(%v) = %+v", tc.err, got)
		}
	}
	if s := formatProblem(checkProblem{File: "f", Offset: -1, Reason: "r"}); s != "f: r" {
		t.Errorf("formatProblem without offset = %q", s)
	}
	if s := formatProblem(checkProblem{File: "f", Offset: 3, Reason: "r"}); s != "f offset 3: r" {
		t.Errorf("formatProblem = %q", s)
	}
}
