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
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestNewestMissingSaidAlike: a log whose newest segments are missing
// (wal/newest-segment names one past the newest there) is refused by
// Open, `mmsb check` and the integrity validator, each in its own words
// until 2026-12-07, with different advice. They say one thing now
// (tlog.CheckNewest). The directory is the one an Open with Repair leaves
// when it cut the log at damage in a middle segment (removing the newest)
// and failed before it rewrote the file: the advice was to restore the
// segments, which Repair removed; it names Repair again now.
func TestNewestMissingSaidAlike(t *testing.T) {
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
	if len(segs) < 3 {
		t.Fatalf("%d log segments, want 3 or more", len(segs))
	}
	middle, newest := segs[len(segs)-2], segs[len(segs)-1]
	st, err := os.Stat(middle)
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, middle, st.Size()-10) // its last record
	fault := errorfs.OnPath(tlog.NewestFileName+".tmp", errorfs.OnKind(errorfs.OpCreate, errorfs.ErrInjected))
	if bus, err := mmsb.Open(dir, &mmsb.Options{FS: errorfs.Wrap(vfs.Default, fault), Repair: true, CheckpointBytes: -1}); err == nil {
		bus.Close()
		t.Fatal("Repair Open with the newest-segment file's rewrite failing: opened")
	}
	if _, err := os.Stat(newest); !os.IsNotExist(err) {
		t.Fatalf("the failed Repair Open left %s (%v): it did not cut the log", newest, err)
	}

	_, openErr := mmsb.Open(dir, &mmsb.Options{CheckpointBytes: -1})
	if openErr == nil {
		t.Fatal("Open after the failed Repair Open: opened")
	}
	file := filepath.Join(dir, "wal", tlog.NewestFileName)
	r := runCLI(t, "check", "--no-progress", dir).mustCode(t, exitFailure)
	prefix := "PROBLEM " + file + ": "
	reason := ""
	for _, line := range strings.Split(r.stdout, "\n") {
		if s, ok := strings.CutPrefix(line, prefix); ok {
			reason = s
		}
	}
	if reason == "" {
		t.Fatalf("check reports nothing at %s:\n%s", file, r.stdout)
	}
	if !strings.Contains(openErr.Error(), reason) {
		t.Errorf("Open and check say it differently:\nOpen:  %v\ncheck: %s", openErr, reason)
	}
	rep, err := validate.Integrity(ctx, validate.Offline(vfs.Default, dir, nil), validate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	said := false
	for _, p := range rep.Problems {
		if p.Where == file {
			said = true
			if p.What != reason {
				t.Errorf("integrity and check say it differently:\nintegrity: %s\ncheck:     %s", p.What, reason)
			}
		}
	}
	if !said {
		t.Errorf("integrity reports nothing at %s: %v", file, rep.Problems)
	}
	if !strings.Contains(reason, "Repair again") || !strings.Contains(reason, filepath.Base(newest)) {
		t.Errorf("the refusal neither names %s nor says to open it with Repair again: %s", filepath.Base(newest), reason)
	}
}
