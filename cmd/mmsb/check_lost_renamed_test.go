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

// TestLostFilesRenamedSegmentWayOut walks the refusal of a bus whose only
// segment was renamed with ".del" added (the name the log gives a segment
// it removes, which it does only beside a checkpoint; so here a segment
// renamed by hand, holding every commit). check named only the ways to
// accept the loss: "restore them from a backup; ... or remove
// checkpoints/log-mode: the directory then opens as a new, empty bus".
// Followed, the next Open (an application's, mmsb serve's) removed the
// segment as a leftover, and every commit with it. The refusal names the
// file first now, with the advice to rename it back, and that way out
// works: check passes and Open reads every commit.
func TestLostFilesRenamedSegmentWayOut(t *testing.T) {
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
	seg := filepath.Join(dir, "wal", tlog.SegmentName(1))
	if err := os.Rename(seg, seg+".del"); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "check", dir)
	out := r.stdout + r.stderr
	if r.code != exitFailure || strings.Count(r.stdout, "PROBLEM ") != 1 || !strings.Contains(out, "files are lost") ||
		!strings.Contains(out, seg+".del remain") || !strings.Contains(out, "rename it back") {
		t.Fatalf("check of a bus whose segment was renamed to .del: exit %d, want %d, one PROBLEM naming %s.del and renaming it back:\n%s", r.code, exitFailure, seg, out)
	}
	if err := os.Rename(seg+".del", seg); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "check", dir); r.code != exitOK {
		t.Fatalf("check after renaming the segment back: exit %d, want %d:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
	}
	bus, err = mmsb.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open after renaming the segment back: %v", err)
	}
	defer bus.Close()
	if bus.LastLSN() != 1 {
		t.Fatalf("Open after renaming the segment back: LSN %d, want 1", bus.LastLSN())
	}
}
