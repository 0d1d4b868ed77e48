package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/internal/validate"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCheckNoLogBesideCoveredSegments: an Open without a log of a
// directory whose log its checkpoint covers records "no log" in
// checkpoints/log-mode, then removes the segments, oldest first. A crash
// in between leaves "no log" beside segments (all of them, or the newest
// ones). `mmsb check` took the mode for --no-log and failed ("--no-log,
// but … holds 2 log segments: the directory was written with a log
// (check it without --no-log)", a flag not given and a way out that did
// not exist), and the offline validators refused the directory
// (ErrInvalidOption "Target.NoLog, but … holds log segment"). Both check
// such a directory with its log now; Open, Replay and QueryLogDir read it
// too (TestDisableLogCrashAtEveryStep).
func TestCheckNoLogBesideCoveredSegments(t *testing.T) {
	for _, removed := range []int{0, 1} {
		t.Run(map[int]string{0: "every segment", 1: "oldest removed"}[removed], func(t *testing.T) {
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "db")
			bus, err := mmsb.Open(dir, &mmsb.Options{CheckpointBytes: -1, SegmentBytes: 4 << 10})
			if err != nil {
				t.Fatal(err)
			}
			ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], uint32(i), []byte(strings.Repeat("x", 300)))}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := bus.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			// The crash point: "no log" recorded, removed segments.
			if err := tlog.WriteMode(vfs.Default, filepath.Join(dir, "checkpoints"), tlog.ModeNoLog); err != nil {
				t.Fatal(err)
			}
			walDir := filepath.Join(dir, "wal")
			names, err := vfs.Default.List(walDir)
			if err != nil || len(names) < 2 {
				t.Fatalf("wal/ holds %v, %v; want at least 2 segments (the case under test)", names, err)
			}
			for _, name := range names[:removed] {
				if err := os.Remove(filepath.Join(walDir, name)); err != nil {
					t.Fatal(err)
				}
			}
			r := runCLI(t, "check", dir)
			if r.code != exitOK {
				t.Fatalf("mmsb check of \"no log\" beside covered segments: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			reps, err := validate.RunAll(ctx, validate.Offline(vfs.Default, dir, nil), validate.Options{})
			if err != nil {
				t.Fatalf("offline validators: %v", err)
			}
			for _, rep := range reps {
				if len(rep.Problems) > 0 {
					t.Fatalf("offline validator %s: %v", rep.Name, rep.Problems)
				}
			}
			// The next Open without a log finishes the removal.
			d, err := mmsb.Open(dir, &mmsb.Options{DisableLog: true, CheckpointBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if has, err := tlog.HasSegment(vfs.Default, walDir); err != nil || has {
				t.Fatalf("after a DisableLog Open wal/ holds a segment: %v, %v", has, err)
			}
			if r := runCLI(t, "check", dir); r.code != exitOK {
				t.Fatalf("mmsb check after the DisableLog Open: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
