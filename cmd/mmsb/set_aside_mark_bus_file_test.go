package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/replicate"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestSetAsideMarkIsNodesFile: a replication node's set-aside writes
// replicate.SetAsideMarkFile into wal/ and checkpoints/, and a crash
// inside it leaves the file there until the node's next start. check and
// checkpoint refused a bus that held nothing beside it as "no bus ran
// there" (another program's file): filesNoBusMakes now takes it as a
// node's, in either directory, and only under exactly that name.
func TestSetAsideMarkIsNodesFile(t *testing.T) {
	for _, sub := range []string{"wal", "checkpoints"} {
		t.Run(sub, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			makeTree(t, dir, map[string]string{"LOCK": "", "wal/": "", "checkpoints/": "", sub + "/" + replicate.SetAsideMarkFile: "token\n"})
			if foreign, _, err := filesNoBusMakes(dir); err != nil || len(foreign) != 0 {
				t.Errorf("%s: files no bus makes %q (%v), want none", dir, foreign, err)
			}
			for _, cmd := range []string{"check", "checkpoint"} {
				r := runCLI(t, cmd, dir)
				if r.code != exitOK || strings.Contains(r.stderr, "not an MMSB data directory") {
					t.Errorf("%s %s: exit %d, want it accepted as a bus that held nothing:\n%s%s", cmd, dir, r.code, r.stdout, r.stderr)
				}
			}

			other := filepath.Join(t.TempDir(), "data")
			makeTree(t, other, map[string]string{"LOCK": "", "wal/": "", "checkpoints/": "", sub + "/x" + replicate.SetAsideMarkFile: "token\n"})
			if foreign, _, _ := filesNoBusMakes(other); len(foreign) != 1 {
				t.Errorf("%s: files no bus makes %q, want %s/x%s alone", other, foreign, sub, replicate.SetAsideMarkFile)
			}
		})
	}
}

// TestNewestSegmentFileIsTheLogs: the log writes wal/newest-segment
// (tlog.NewestFileName) at its first rotation and keeps it when a
// DisableLog Open empties wal/; a bus that held nothing beside it (or
// beside its temporary, left by a crash) is a bus, not "another
// program's file".
func TestNewestSegmentFileIsTheLogs(t *testing.T) {
	for _, name := range []string{tlog.NewestFileName, tlog.NewestFileName + ".tmp"} {
		dir := filepath.Join(t.TempDir(), "data")
		makeTree(t, dir, map[string]string{"LOCK": "", "wal/": "", "checkpoints/": "", "wal/" + name: "x"})
		if foreign, _, err := filesNoBusMakes(dir); err != nil || len(foreign) != 0 {
			t.Errorf("%s with wal/%s: files no bus makes %q (%v), want none", dir, name, foreign, err)
		}
	}
	other := filepath.Join(t.TempDir(), "data")
	makeTree(t, other, map[string]string{"LOCK": "", "wal/": "", "checkpoints/": "", "wal/x" + tlog.NewestFileName: "x"})
	if foreign, _, _ := filesNoBusMakes(other); len(foreign) != 1 {
		t.Errorf("%s: files no bus makes %q, want wal/x%s alone", other, foreign, tlog.NewestFileName)
	}
}

// TestRepairLostFileIsTheLogs: wal/repair-lost, which a Repair that cut
// the log and then failed leaves until an Open reports its loss, is the
// log's file: a bus holding it was "another program's directory".
func TestRepairLostFileIsTheLogs(t *testing.T) {
	for _, name := range []string{tlog.RepairLostFileName, tlog.RepairLostFileName + ".tmp"} {
		dir := filepath.Join(t.TempDir(), "data")
		makeTree(t, dir, map[string]string{"LOCK": "", "wal/": "", "checkpoints/": "", "wal/" + name: "x"})
		if foreign, _, err := filesNoBusMakes(dir); err != nil || len(foreign) != 0 {
			t.Errorf("%s with wal/%s: files no bus makes %q (%v), want none", dir, name, foreign, err)
		}
	}
}
