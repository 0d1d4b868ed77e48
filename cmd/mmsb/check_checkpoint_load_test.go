package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCheckCountsCheckpointTheLoaderRefuses: a checkpoint whose framing
// and checksums are whole (checkpoint.Verify passes) but whose content
// the loader refuses (a page last written after the checkpoint's LSN) is
// not valid: check counts it so ("0 of 1 valid") and prints the loader's
// reason on a problem line naming the file. Before, check printed
// "checkpoints: 1 of 1 valid" and only the integrity validator's
// differences, no line saying why the checkpoint does not load. The
// negative control is the bus's own checkpoint: "1 of 1 valid", OK.
func TestCheckCountsCheckpointTheLoaderRefuses(t *testing.T) {
	tb := newTestBus(t)
	r := runCLI(t, "check", tb.dir).mustCode(t, exitOK)
	if !strings.Contains(r.stdout, "checkpoints: 1 of 1 valid") {
		t.Fatalf("control: check of a whole directory:\n%s", r.stdout)
	}

	path, lsn := refusedCheckpoint(t, tb.dir)

	r = runCLI(t, "check", tb.dir).mustCode(t, exitFailure)
	if !strings.Contains(r.stdout, "checkpoints: 0 of 1 valid") {
		t.Errorf("check does not count the refused checkpoint as invalid:\n%s", r.stdout)
	}
	reason := "page 1 last written at LSN " + itoa(uint64(lsn+1)) + ", after the checkpoint's LSN " + itoa(uint64(lsn))
	found := false
	for line := range strings.Lines(r.stdout) {
		found = found || strings.HasPrefix(line, "PROBLEM "+path) && strings.Contains(line, reason)
	}
	if !found {
		t.Errorf("no problem line names %s and the loader's reason %q:\n%s", path, reason, r.stdout)
	}

	r = runCLI(t, "check", "--json", tb.dir).mustCode(t, exitFailure)
	var rep checkReport
	r.decodeJSON(t, &rep)
	if len(rep.Checkpoints) != 1 || rep.Checkpoints[0].File != path || rep.Checkpoints[0].OK || rep.Checkpoints[0].LSN != uint64(lsn) {
		t.Errorf("checkpoints %+v, want %s not ok", rep.Checkpoints, path)
	}
}

// TestInspectMarksCheckpointTheLoaderRefuses: inspect's checkpoint table
// marks such a checkpoint damaged and counts it. Before, inspect judged by
// the framing alone and showed it as good.
func TestInspectMarksCheckpointTheLoaderRefuses(t *testing.T) {
	tb := newTestBus(t)
	r := runCLI(t, "inspect", tb.dir).mustCode(t, exitOK)
	if strings.Contains(r.stdout, "damaged") {
		t.Fatalf("control: inspect of a whole directory:\n%s", r.stdout)
	}
	path, _ := refusedCheckpoint(t, tb.dir)
	r = runCLI(t, "inspect", tb.dir)
	found := false
	for line := range strings.Lines(r.stdout) {
		found = found || strings.HasPrefix(line, filepath.Base(path)) && strings.Contains(line, "damaged")
	}
	if !found || !strings.Contains(r.stdout, "1 checkpoint does not verify") {
		t.Errorf("inspect does not mark %s damaged:\n%s", filepath.Base(path), r.stdout)
	}
}

// refusedCheckpoint replaces the only checkpoint of dir by one whose
// framing and checksums are whole (checkpoint.Verify passes) but whose
// content the loader refuses: a page last written after the checkpoint's
// LSN. It returns its path and LSN.
func refusedCheckpoint(t *testing.T, dir string) (string, base.LSN) {
	t.Helper()
	ckDir := filepath.Join(dir, "checkpoints")
	list, err := checkpoint.List(nil, ckDir)
	if err != nil || len(list) != 1 {
		t.Fatalf("checkpoints %v (%v)", list, err)
	}
	lsn := list[0].LSN
	if err := os.Remove(list[0].Path); err != nil {
		t.Fatal(err)
	}
	wr, err := checkpoint.Create(vfs.Default, ckDir, lsn)
	if err != nil {
		t.Fatal(err)
	}
	st := record.State{LastLSN: lsn, NextID: 6, Pages: 1}
	img := record.PageImage{ID: 1, Size: 64, Epoch: 1, LastLSN: lsn + 1, Data: make([]byte, 64)}
	for _, err := range []error{
		wr.Append(record.CkptState, record.AppendState(nil, &st)),
		wr.Append(record.CkptPage, record.AppendPage(nil, &img)),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	path, err := wr.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Verify(vfs.Default, path); err != nil {
		t.Fatalf("the crafted checkpoint's framing must verify: %v", err)
	}

	return path, lsn
}
