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

// removedLogBus makes a bus with a log: three pages, a checkpoint (LSN
// 3), a fourth page after it, closed; then its log goes as damage takes
// it: the segments removed (wal/ left), or wal/ itself.
func removedLogBus(t *testing.T, removeWal bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 4 {
		if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
			bus.Close()
			t.Fatal(err)
		}
		if i == 2 {
			if _, err := bus.Checkpoint(ctx); err != nil {
				bus.Close()
				t.Fatal(err)
			}
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(dir, "wal")
	if removeWal {
		if err := os.RemoveAll(wal); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	entries, err := os.ReadDir(wal)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(wal, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCheckRemovedLogReportedOnce: check of a bus whose log was removed
// beside a checkpoint printed one PROBLEM line for each step that met the
// loss: with its segments removed, five (both replays and three
// validators, in Open's words, none from the log check), with wal/
// removed, six. It reports the loss once, from the log check, and skips
// the steps that can only repeat it, as for a bus's lost files
// (TestCheckLostFilesReportedOnce). The way out the segments' problem
// names that an operator takes without a program (remove the log-mode
// file) works: check passes and Open opens at the checkpoint.
func TestCheckRemovedLogReportedOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		removeWal bool
		says      string
	}{
		{"segments removed", false, "holds no log segment, but"},
		{"wal/ removed", true, "has checkpoints/ but no wal/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := removedLogBus(t, tc.removeWal)
			r := runCLI(t, "check", dir)
			var problems []string
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(l, "PROBLEM ") {
					problems = append(problems, l)
				}
			}
			if r.code != exitFailure || len(problems) != 1 || !strings.Contains(problems[0], tc.says) ||
				!strings.HasPrefix(problems[0], "PROBLEM "+filepath.Join(dir, "wal")+": ") {
				t.Fatalf("check of a log removed beside a checkpoint: exit %d, %d PROBLEM line(s); want exit %d and one naming wal/ saying %q:\n%s%s",
					r.code, len(problems), exitFailure, tc.says, r.stdout, r.stderr)
			}
			rj := runCLI(t, "check", "--json", dir)
			var rep checkReport
			rj.decodeJSON(t, &rep)
			if rj.code != exitFailure || rep.OK || len(rep.Problems) != 1 {
				t.Errorf("check --json: exit %d, ok %v, %d problem(s); want exit %d, not ok, 1:\n%s", rj.code, rep.OK, len(rep.Problems), exitFailure, rj.stdout)
			}
			if tc.removeWal {
				return
			}
			mode := filepath.Join(dir, "checkpoints", tlog.ModeFileName)
			if !strings.Contains(problems[0], "remove "+mode+": the directory then opens at the newest checkpoint") {
				t.Fatalf("the problem does not name the removal of %s as a way out:\n%s", mode, problems[0])
			}
			if err := os.Remove(mode); err != nil {
				t.Fatal(err)
			}
			if r := runCLI(t, "check", dir); r.code != exitOK {
				t.Fatalf("check after the way out (%s removed): exit %d, want %d:\n%s%s", mode, r.code, exitOK, r.stdout, r.stderr)
			}
			bus, err := mmsb.Open(dir, nil)
			if err != nil {
				t.Fatalf("Open after the way out: %v", err)
			}
			defer bus.Close()
			if bus.LastLSN() != 3 {
				t.Fatalf("Open after the way out: LSN %d, want the checkpoint's, 3", bus.LastLSN())
			}
		})
	}
}
