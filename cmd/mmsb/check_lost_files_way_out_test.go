package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// lostBus makes a bus with a log that committed one page and took no
// checkpoint, then loses its log as damage does: wal/ emptied, or
// removed. Its checkpoints/log-mode still says "log": the bus's files
// are lost (tlog.FilesLost).
func lostBus(t *testing.T, removeWal bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8}); err != nil {
		bus.Close()
		t.Fatal(err)
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

// TestLostFilesWayOut walks the path an operator takes with a bus whose
// files were lost: check refuses it naming the loss and, as a way out,
// the removal of checkpoints/log-mode ("the directory then opens as a
// new, empty bus"); the operator removes it; check, inspect, graph and
// checkpoint then accept the directory, and Open opens it empty. Before,
// every command but Open went on refusing it after the removal ("LOCK
// remain: a bus ran there and its files were lost or renamed (restore
// them from a backup)"), until a bus had been opened there once: the way
// out the message named did not work for the command that named it.
func TestLostFilesWayOut(t *testing.T) {
	for _, tc := range []struct {
		name      string
		removeWal bool
	}{
		{"wal/ emptied", false},
		{"wal/ removed", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := lostBus(t, tc.removeWal)
			mode := filepath.Join(dir, "checkpoints", "log-mode")
			r := runCLI(t, "check", dir)
			out := r.stdout + r.stderr
			if r.code != exitFailure || !strings.Contains(out, "files are lost") || !strings.Contains(out, mode) || !strings.Contains(out, "opens as a new, empty bus") {
				t.Fatalf("check of a bus whose files were lost: exit %d, want %d, naming the loss and the removal of %s as a way out:\n%s", r.code, exitFailure, mode, out)
			}
			if err := os.Remove(mode); err != nil {
				t.Fatal(err)
			}
			for i, args := range [][]string{{"check"}, {"inspect"}, {"graph"}, {"checkpoint"}, {"check"}} {
				r := runCLI(t, append(args, dir)...)
				if r.code != exitOK {
					t.Fatalf("mmsb %s after the way out check named (%s removed): exit %d, want %d:\n%s%s\nfiles: %q",
						args[0], mode, r.code, exitOK, r.stdout, r.stderr, listTree(t, dir))
				}
				// The first check says what it cannot tell apart; once
				// checkpoint opened the bus, there is nothing to say.
				if warned := strings.Contains(r.stdout, "WARNING "+dir+": no log segment"); args[0] == "check" && warned != (i == 0) {
					t.Errorf("check %d after the way out: warned %v, want %v:\n%s", i, warned, i == 0, r.stdout)
				}
			}
			bus, err := mmsb.Open(dir, nil)
			if err != nil {
				t.Fatalf("Open after the way out: %v", err)
			}
			defer bus.Close()
			if pages, err := bus.Pages(); err != nil || len(pages) != 0 || bus.LastLSN() != 0 {
				t.Errorf("Open after the way out: %d pages (%v), LSN %d, want a new, empty bus", len(pages), err, bus.LastLSN())
			}
		})
	}
}

// TestCheckLostFilesReportedOnce: check of a bus whose files were lost
// printed one PROBLEM line for each step that met the loss (the log
// check, both replays, the integrity, graph and invariants validators):
// six lines, five of them repeating the first in other words. It reports
// it once and skips the steps that can only repeat it; a problem of
// another kind in the same directory (here a file under a checkpoint's
// pattern that recovery ignores) is still reported.
func TestCheckLostFilesReportedOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		removeWal bool
		stray     bool
		problems  int
	}{
		{"wal/ emptied", false, false, 1},
		{"wal/ removed", true, false, 1},
		{"wal/ emptied, and a stray checkpoint name", false, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := lostBus(t, tc.removeWal)
			stray := filepath.Join(dir, "checkpoints", "checkpoint-5.ckpt")
			if tc.stray {
				if err := os.WriteFile(stray, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := runCLI(t, "check", dir)
			lines := 0
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(l, "PROBLEM ") {
					lines++
				}
			}
			if r.code != exitFailure || lines != tc.problems || strings.Count(r.stdout, "files are lost") != 1 ||
				tc.stray && !strings.Contains(r.stdout, "PROBLEM "+stray+": not a checkpoint file name") {
				t.Errorf("check of a bus whose files were lost: exit %d, %d PROBLEM line(s), %d naming the loss; want exit %d, %d line(s), the loss once (and the stray file %v):\n%s%s",
					r.code, lines, strings.Count(r.stdout, "files are lost"), exitFailure, tc.problems, tc.stray, r.stdout, r.stderr)
			}
			rj := runCLI(t, "check", "--json", dir)
			var rep checkReport
			rj.decodeJSON(t, &rep)
			if rj.code != exitFailure || rep.OK || len(rep.Problems) != tc.problems {
				t.Errorf("check --json: exit %d, ok %v, %d problem(s); want exit %d, not ok, %d:\n%s", rj.code, rep.OK, len(rep.Problems), exitFailure, tc.problems, rj.stdout)
			}
		})
	}
}
