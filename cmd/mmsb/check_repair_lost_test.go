package main

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// writeRepairLost writes wal/repair-lost of dir recording LSNs first to
// last lost, in the format of docs/formats.md ("Repair-lost file").
func writeRepairLost(t *testing.T, dir string, first, last mmsb.LSN) string {
	t.Helper()
	b := make([]byte, 32)
	copy(b, "MMSBTLRL")
	binary.LittleEndian.PutUint32(b[8:], tlog.RepairLostFormatVersion)
	binary.LittleEndian.PutUint64(b[12:], uint64(first))
	binary.LittleEndian.PutUint64(b[20:], uint64(last))
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], crc32.MakeTable(crc32.Castagnoli)))
	path := filepath.Join(dir, "wal", tlog.RepairLostFileName)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, gotLast, err := tlog.ReadRepairLost(vfs.Default, filepath.Join(dir, "wal")); err != nil || got != first || gotLast != last {
		t.Fatalf("%s reads %d..%d (%v), want %d..%d", path, got, gotLast, err, first, last)
	}
	return path
}

// TestCheckWarnsOfRepairLost: an Open with Repair that cut the log and
// failed before it reported the loss leaves wal/repair-lost beside a log
// that ends cleanly where the cut was. `mmsb check` passed it without a
// word of the commits it gave up; it warns now, naming the file and the
// LSNs, and still passes (the files are whole; the next Open reports the
// loss). Controls: no warning without the file, nor with a stale one (the
// log holds its first LSN: the bus committed since, as Open reads it).
func TestCheckWarnsOfRepairLost(t *testing.T) {
	tb := newTestBus(t)
	r := runCLI(t, "check", tb.dir).mustCode(t, exitOK)
	if strings.Contains(r.stdout, tlog.RepairLostFileName) {
		t.Fatalf("check without %s mentions it:\n%s", tlog.RepairLostFileName, r.stdout)
	}

	path := writeRepairLost(t, tb.dir, tb.lastLSN+1, tb.lastLSN+5)
	r = runCLI(t, "check", tb.dir).mustCode(t, exitOK)
	want := fmt.Sprintf("WARNING %s: an Open with Options.Repair cut the log at damage and failed before it reported the loss: the operations committed at LSNs %d to %d are lost",
		path, tb.lastLSN+1, tb.lastLSN+5)
	if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "OK: "+tb.dir) {
		t.Fatalf("check beside %s recording LSNs %d..%d lost:\n%s\nwant the line %q and OK", path, tb.lastLSN+1, tb.lastLSN+5, r.stdout, want)
	}
	r = runCLI(t, "check", "--json", tb.dir).mustCode(t, exitOK)
	var rep checkReport
	r.decodeJSON(t, &rep)
	found := 0
	for _, w := range rep.Warnings {
		if w.File == path && strings.Contains(w.Reason, fmt.Sprintf("LSNs %d to %d", tb.lastLSN+1, tb.lastLSN+5)) {
			found++
		}
	}
	if !rep.OK || found != 1 || len(rep.Problems) != 0 {
		t.Fatalf("check --json beside %s: %+v; want OK, one warning naming it and the LSNs", path, rep)
	}

	// Its end not known.
	writeRepairLostOver(t, tb.dir, tb.lastLSN+1, tlog.LostUnknown)
	r = runCLI(t, "check", tb.dir).mustCode(t, exitOK)
	if !regexp.MustCompile(`WARNING .*repair-lost: .*committed from LSN ` + fmt.Sprint(tb.lastLSN+1) + ` on \(how many is not known\)`).MatchString(r.stdout) {
		t.Fatalf("check beside %s recording LSNs from %d on lost:\n%s", path, tb.lastLSN+1, r.stdout)
	}

	// Stale: the log holds its first LSN.
	writeRepairLostOver(t, tb.dir, tb.lastLSN, tb.lastLSN+5)
	r = runCLI(t, "check", tb.dir).mustCode(t, exitOK)
	if strings.Contains(r.stdout, "WARNING "+path) {
		t.Fatalf("check beside a stale %s (the log holds LSN %d):\n%s\nwant no warning, as Open reports nothing", path, tb.lastLSN, r.stdout)
	}
}

func writeRepairLostOver(t *testing.T, dir string, first, last mmsb.LSN) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, "wal", tlog.RepairLostFileName)); err != nil {
		t.Fatal(err)
	}
	writeRepairLost(t, dir, first, last)
}
