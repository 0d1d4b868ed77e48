package validate

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestIntegrityNotesRepairLost: wal/repair-lost records LSNs an Open with
// Repair gave up and no Open reported (it cut the log and failed after).
// The integrity validator ignored it: the log it scans ends cleanly where
// the cut was. Its report says so now in a note naming the file and the
// LSNs, and still passes (the files are whole). Controls: no note without
// the file, nor beside a stale one (the log holds its first LSN).
func TestIntegrityNotesRepairLost(t *testing.T) {
	fs := vfs.NewMem()
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Offset: uint32(i), Data: []byte{1}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	last := e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	path := busDir + "/wal/" + tlog.RepairLostFileName
	noted := func(t *testing.T) string {
		t.Helper()
		rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
		requireOK(t, rep, err)
		var found []string
		for _, n := range rep.Notes {
			if strings.Contains(n, tlog.RepairLostFileName) {
				found = append(found, n)
			}
		}
		if len(found) > 1 {
			t.Fatalf("notes %q: more than one names %s", rep.Notes, tlog.RepairLostFileName)
		}
		return strings.Join(found, "")
	}
	if n := noted(t); n != "" {
		t.Fatalf("without %s: note %q", tlog.RepairLostFileName, n)
	}
	writeFile(t, fs, path, encodeRepairLostForTest(last+1, last+4))
	want := fmt.Sprintf("%s: an Open with Options.Repair cut the log at damage and failed before it reported the loss: the operations committed at LSNs %d to %d are lost", path, last+1, last+4)
	if n := noted(t); !strings.HasPrefix(n, want) {
		t.Fatalf("beside %s recording LSNs %d..%d lost: note %q, want it to start %q", path, last+1, last+4, n, want)
	}
	writeFile(t, fs, path, encodeRepairLostForTest(last, last+4))
	if n := noted(t); n != "" {
		t.Fatalf("beside a stale %s (the log holds LSN %d): note %q, want none", path, last, n)
	}
}

// encodeRepairLostForTest is a repair-lost file recording first..last lost
// (docs/formats.md, "Repair-lost file").
func encodeRepairLostForTest(first, last mmsb.LSN) []byte {
	b := make([]byte, 32)
	copy(b, "MMSBTLRL")
	binary.LittleEndian.PutUint32(b[8:], tlog.RepairLostFormatVersion)
	binary.LittleEndian.PutUint64(b[12:], uint64(first))
	binary.LittleEndian.PutUint64(b[20:], uint64(last))
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
