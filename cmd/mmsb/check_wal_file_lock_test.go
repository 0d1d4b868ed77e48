package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

func problemLines(out string) []string {
	var ps []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "PROBLEM ") {
			ps = append(ps, l)
		}
	}
	return ps
}

// TestCheckWalFileReportedOnce: check of a bus whose wal is a file printed
// six PROBLEM lines for that one cause (the log check, requireLogDir, both
// replays, integrity twice). One, naming wal and what to do.
func TestCheckWalFileReportedOnce(t *testing.T) {
	dir := removedLogBus(t, true)
	wal := filepath.Join(dir, "wal")
	if err := os.WriteFile(wal, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "check", dir)
	ps := problemLines(r.stdout)
	if r.code != exitFailure || len(ps) != 1 || !strings.HasPrefix(ps[0], "PROBLEM "+wal+": ") ||
		!strings.Contains(ps[0], "is not a directory") || !strings.Contains(ps[0], "move the file aside") {
		t.Fatalf("check with wal a file: exit %d, %d PROBLEM line(s); want exit %d and one naming %s and what to do:\n%s%s",
			r.code, len(ps), exitFailure, wal, r.stdout, r.stderr)
	}
	rj := runCLI(t, "check", "--json", dir)
	var rep checkReport
	rj.decodeJSON(t, &rep)
	if rj.code != exitFailure || rep.OK || len(rep.Problems) != 1 {
		t.Errorf("check --json: exit %d, ok %v, %d problem(s); want exit %d, not ok, 1:\n%s", rj.code, rep.OK, len(rep.Problems), exitFailure, rj.stdout)
	}
}

// TestCheckReportsLockNotFile: a LOCK that is a directory makes every
// writer's Open fail, and check said OK. Control: a regular LOCK passes.
func TestCheckReportsLockNotFile(t *testing.T) {
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
	if r := runCLI(t, "check", dir); r.code != exitOK {
		t.Fatalf("check of a whole bus: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	lock := filepath.Join(dir, "LOCK")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lock, 0o755); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "check", dir)
	ps := problemLines(r.stdout)
	if r.code != exitFailure || len(ps) != 1 || !strings.HasPrefix(ps[0], "PROBLEM "+lock+": ") || !strings.Contains(ps[0], "no writer can open") {
		t.Fatalf("check with LOCK a directory: exit %d, %d PROBLEM line(s); want exit %d and one naming %s:\n%s%s",
			r.code, len(ps), exitFailure, lock, r.stdout, r.stderr)
	}
}
