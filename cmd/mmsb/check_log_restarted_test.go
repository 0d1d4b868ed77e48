package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCheckLogRestartedAfterCheckpoint: a bus with a log (a checkpoint at
// LSN 1), then without one (Options.DisableLog, a checkpoint at 2), then
// with one again (LSN 3, no checkpoint yet): its log restarts right after
// the newest checkpoint and continues none of the older ones, by design.
// check's replay from the oldest checkpoint failed there ("log jumps from
// LSN 1 to 3": exit 1) on every such bus until its writer took two more
// checkpoints; the way out DisableLog takes for a removed log led there
// too (TestWaysOutByOptionAcceptedAfter). It replays the history from the
// newest checkpoint now, with a warning naming the restart. A log whose
// first segment does not start right after a checkpoint (its first
// segment removed by hand) is still a problem.
func TestCheckLogRestartedAfterCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	for i, opts := range []*mmsb.Options{nil, {DisableLog: true}, nil} {
		bus, err := mmsb.Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
			bus.Close()
			t.Fatal(err)
		}
		if i < 2 {
			if _, err := bus.Checkpoint(ctx); err != nil {
				bus.Close()
				t.Fatal(err)
			}
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
	}
	r := runCLI(t, "check", dir)
	wal := filepath.Join(dir, "wal")
	if r.code != exitOK || !strings.Contains(r.stdout, "WARNING "+wal+": the log starts at LSN 3, right after checkpoint LSN 2") {
		t.Fatalf("check of a bus whose log restarted after a checkpoint: exit %d, want %d and a warning naming the restart:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
	}
	// Control: a log that starts elsewhere is no restart. Its first
	// segment gone (a second one made by hand at LSN 4, after 3's
	// commit), the replays fail as before.
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
		bus.Close()
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segmentFiles(t, dir)
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	if err := tlog.CreateEmptySegment(vfs.Default, wal, 5); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(segs[0]); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "check", dir); r.code != exitFailure || strings.Contains(r.stdout, "right after checkpoint") {
		t.Fatalf("check of a log whose first segment was removed: exit %d, want %d and no restart:\n%s%s", r.code, exitFailure, r.stdout, r.stderr)
	}
}
