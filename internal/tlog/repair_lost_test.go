package tlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// docRepairLost is docs/formats.md's "Repair-lost file" table, built from
// the table alone (its own offsets and constants).
func docRepairLost(first, last uint64) []byte {
	b := make([]byte, 32)
	copy(b[0:8], "MMSBTLRL")
	binary.LittleEndian.PutUint32(b[8:12], 1)
	binary.LittleEndian.PutUint64(b[12:20], first)
	binary.LittleEndian.PutUint64(b[20:28], last)
	binary.LittleEndian.PutUint32(b[28:32], crc32.Checksum(b[0:28], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestRepairLostFileMatchesFormatsDoc: the bytes of the table are what
// Repair's recovery writes and what ReadRepairLost reads.
func TestRepairLostFileMatchesFormatsDoc(t *testing.T) {
	for _, tc := range []struct{ first, last base.LSN }{{5, 9}, {7, LostUnknown}} {
		fs := vfs.NewMem()
		if err := vfs.MkdirAllAndSync(fs, "/wal"); err != nil {
			t.Fatal(err)
		}
		rc := recovery{opts: Options{FS: fs, Dir: "/wal"}}
		rc.report.LostFirstLSN, rc.report.LostLastLSN = tc.first, tc.last
		if err := rc.markRepairLost(tc.first); err != nil {
			t.Fatal(err)
		}
		want := docRepairLost(uint64(tc.first), uint64(tc.last))
		f, err := fs.Open("/wal/" + RepairLostFileName)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 64)
		n, _ := f.ReadAt(got, 0)
		_ = f.Close()
		if !bytes.Equal(got[:n], want) {
			t.Fatalf("%d..%d: file %x, table %x", tc.first, tc.last, got[:n], want)
		}
		if first, last, err := ReadRepairLost(fs, "/wal"); err != nil || first != tc.first || last != tc.last {
			t.Fatalf("read back %d..%d, %v; want %d..%d", first, last, err, tc.first, tc.last)
		}
	}
}

// TestRepairLostRefusesMalformed: every departure from the table is
// ErrBadRepairLost; recovery reads such a file as a loss from the LSN
// after its checkpoint's on, the end unknown, where nothing the log holds
// past the checkpoint makes it stale.
func TestRepairLostRefusesMalformed(t *testing.T) {
	good := docRepairLost(3, 4)
	bad := map[string][]byte{
		"short":       good[:31],
		"long":        append(bytes.Clone(good), 0),
		"magic":       append([]byte("MMSBTLRX"), good[8:]...),
		"crc":         append(bytes.Clone(good[:28]), 0, 0, 0, 0),
		"version 2":   func() []byte { b := docRepairLost(3, 4); b[8] = 2; return fixCRC(b) }(),
		"first 0":     docRepairLost(0, 4),
		"last before": docRepairLost(5, 4),
	}
	for name, b := range bad {
		if _, _, err := decodeRepairLost(b); !errors.Is(err, ErrBadRepairLost) {
			t.Errorf("%s: %v, want ErrBadRepairLost", name, err)
		}
	}
	if _, _, err := decodeRepairLost(good); err != nil {
		t.Fatalf("the table's bytes: %v", err)
	}

	dir := t.TempDir()
	writeLog(t, dir, 1<<20, genRecords(1, 3, 10)) // LSNs 1..k
	if err := os.WriteFile(filepath.Join(dir, RepairLostFileName), good[:5], 0o644); err != nil {
		t.Fatal(err)
	}
	_, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 100)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	if rep.LostFirstLSN != 101 || rep.LostLastLSN != LostUnknown {
		t.Errorf("Open beside a malformed repair-lost file: lost %d..%d, want 101..LostUnknown", rep.LostFirstLSN, rep.LostLastLSN)
	}
}

func fixCRC(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[28:32], crc32.Checksum(b[0:28], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestCheckNamesNewestSegmentCutToNothing: Check (mmsb check) reads the
// newest segment cut to nothing, where wal/newest-segment names it, as
// recovery does: damage (NamedHeaderTorn), not the empty last segment a
// crash leaves, which it called it ("recovery removes it"). The Reader
// refuses it too, naming the file.
func TestCheckNamesNewestSegmentCutToNothing(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 256, genRecords(1, 40, 50))
	segs := segPaths(t, dir)
	if len(segs) < 2 {
		t.Fatalf("%d segments, want 2 or more", len(segs))
	}
	last := segs[len(segs)-1]
	if err := os.Truncate(last, 0); err != nil {
		t.Fatal(err)
	}
	_, problems, _ := checkAll(t, dir)
	var said string
	for _, p := range problems {
		if p.File == last {
			said = p.Reason
		}
	}
	if !bytes.Contains([]byte(said), []byte(NewestFileName)) {
		t.Errorf("Check of the newest segment cut to nothing: %q (problems %v); want it named damage, naming %s", said, problems, NewestFileName)
	}
	if _, err := readAll(t, dir, 1); err == nil || !bytes.Contains([]byte(err.Error()), []byte(NewestFileName)) {
		t.Errorf("Reader of the newest segment cut to nothing: %v; want corruption naming %s", err, NewestFileName)
	}
}
