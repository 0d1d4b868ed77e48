package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestCheckReportsMissingNewestSegment: `mmsb check` of a bus whose
// newest log segment was deleted (the operations committed in it lost)
// fails, naming the missing segment once.
func TestCheckReportsMissingNewestSegment(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, &mmsb.Options{SegmentBytes: 4 << 10, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 { // about 20 KiB of log: several rotations
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, make([]byte, 512))}); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segmentFiles(t, dir)
	if len(segs) < 2 {
		t.Fatalf("%d log segments, want a rotation", len(segs))
	}
	runCLI(t, "check", dir).mustCode(t, exitOK) // rotated, whole
	newest := segs[len(segs)-1]
	if err := os.Remove(newest); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "check", dir).mustCode(t, exitFailure)
	if want := "PROBLEM " + filepath.Join(dir, "wal", "newest-segment") + ": names segment " + filepath.Base(newest) + " as the newest"; !strings.Contains(r.stdout, want) {
		t.Errorf("check does not say %q:\n%s", want, r.stdout)
	}
	if n := strings.Count(r.stdout+r.stderr, filepath.Base(newest)); n != 1 {
		t.Fatalf("check names the missing newest segment %s %d times, want once:\n%s%s", newest, n, r.stdout, r.stderr)
	}
}
