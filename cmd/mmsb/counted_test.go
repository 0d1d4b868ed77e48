package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestCountsSaidInNumber: a count of one is said with the noun in the
// singular. replay --out of a directory holding one file said "it holds
// 1 entries" (TestReplayBadInput pinned it), check of a bus of one page
// "1 pages", the refusal of a bus whose one segment was renamed "X
// remain", and bench with --count 1 "1 deltas in 1 batches".
func TestCountsSaidInNumber(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 entries"}, {1, "1 entry"}, {2, "2 entries"}} {
		if got := counted(tc.n, "entry", "entries"); got != tc.want {
			t.Errorf("counted(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}

	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, nil)
	noErr(t, err)
	if _, err := bus.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 64}}); err != nil {
		t.Fatal(err)
	}
	noErr(t, bus.Close())

	out := filepath.Join(t.TempDir(), "out")
	noErr(t, os.MkdirAll(out, 0o755))
	noErr(t, os.WriteFile(filepath.Join(out, "keep"), []byte("x"), 0o644))
	r := runCLI(t, "replay", "--out", out, dir).mustCode(t, exitUsage)
	if !strings.Contains(r.stderr, "it holds 1 entry (") {
		t.Errorf("replay --out of a directory holding one file: %q, want \"it holds 1 entry\"", r.stderr)
	}

	r = runCLI(t, "check", dir).mustCode(t, exitOK)
	if !strings.Contains(r.stdout, ", 1 page, 0 edges, 0 bindings,") {
		t.Errorf("check of a bus of one page:\n%s\nwant \"1 page, 0 edges, 0 bindings\"", r.stdout)
	}

	// A bus whose one segment was renamed: the name it is left under
	// "remains".
	lost := filepath.Join(t.TempDir(), "lost")
	bus, err = mmsb.Open(lost, nil)
	noErr(t, err)
	if _, err := bus.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 64}}); err != nil {
		t.Fatal(err)
	}
	noErr(t, bus.Close())
	segs := segmentFiles(t, lost)
	noErr(t, os.Rename(segs[0], segs[0]+".bak"))
	r = runCLI(t, "check", lost).mustCode(t, exitFailure)
	if !strings.Contains(r.stdout, ".log.bak remains under names") {
		t.Errorf("check of a bus whose one segment was renamed:\n%s\nwant \"... .log.bak remains under names\"", r.stdout)
	}

	r = runCLI(t, "bench", "--pages", "1", "--count", "1", "--batch", "1", "--no-progress").mustCode(t, exitOK)
	for _, want := range []string{"1 page x ", "1 delta of ", "create      1 page in", "1 delta in 1 batch,"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("bench --pages 1 --count 1:\n%s\nwant %q", r.stdout, want)
		}
	}
}

// TestCountsOfOneInReadAndBench: the counts TestCountsSaidInNumber left
// out. read --f64 of a 9-byte page said "1 trailing bytes"; bench's host
// line "1 involuntary switches, ... 1 major faults" and, with --sync-floor
// 1, "1 appends"; inspect of a log with one problem "(1 log problem(s):
// ...)" and of one damaged checkpoint "1 checkpoint(s) do not verify"
// (TestInspectDamagedCheckpoint).
func TestCountsOfOneInReadAndBench(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, nil)
	noErr(t, err)
	if _, err := bus.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 9}}); err != nil {
		t.Fatal(err)
	}
	noErr(t, bus.Close())
	r := runCLI(t, "read", dir, "--page", "1", "--f64").mustCode(t, exitOK)
	if !strings.Contains(r.stdout, "     8  1 trailing byte, not a float64: 00") {
		t.Errorf("read --f64 of a 9-byte page:\n%s\nwant \"1 trailing byte\"", r.stdout)
	}

	tb := newTestBus(t)
	segs := segmentFiles(t, tb.dir)
	last := segs[len(segs)-1]
	st, err := os.Stat(last)
	noErr(t, err)
	noErr(t, os.Truncate(last, st.Size()-3)) // a torn tail: one problem, replayed past
	r = runCLI(t, "inspect", tb.dir).mustCode(t, exitOK)
	if want := "(1 log problem: run `mmsb check " + tb.dir + "`)"; !strings.Contains(r.stdout, want) {
		t.Errorf("inspect of a log with a torn tail:\n%s\nwant %q", r.stdout, want)
	}

	var out strings.Builder
	a := &app{stdout: &out, stderr: &out}
	res := &benchResult{InMemory: true, SyncFloorSyncs: 1, SyncFloorBytes: 64}
	res.InvolSwitches, res.MinorFaults, res.MajorFaults = 1, 1, 1
	a.printBench(res)
	for _, want := range []string{"1 involuntary switch, 1 minor fault and 1 major fault,", "device floor  1 append of 64 B,"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench's summary of one of each:\n%s\nwant %q", out.String(), want)
		}
	}
}
