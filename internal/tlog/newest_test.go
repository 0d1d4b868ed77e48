package tlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestOpenRefusesRemovedNewestSegment: with its newest segment deleted, a
// log opened to the end of the segment before it and reported nothing:
// the records in the deleted one vanished, and the next append took their
// LSNs. The newest-segment file names the newest segment made: Open
// refuses the log (corruption naming the file); Repair opens it, reports
// the LSNs from the log's end on lost, leaves the file for SettleNewest,
// after which the log opens without Repair.
func TestOpenRefusesRemovedNewestSegment(t *testing.T) {
	dir := t.TempDir()
	recs := genRecords(1, 30, 100)
	writeLog(t, dir, 600, recs)
	segs := segPaths(t, dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want 3 or more", len(segs))
	}
	newest := segs[len(segs)-1]
	if got, err := ReadNewest(vfs.Default, dir); err != nil || SegmentName(got) != filepath.Base(newest) {
		t.Fatalf("newest-segment file: %d, %v; want %s", got, err, filepath.Base(newest))
	}
	if err := os.Remove(newest); err != nil {
		t.Fatal(err)
	}
	before := segs[len(segs)-2]
	prevFirst, _ := ParseSegmentName(filepath.Base(before))
	opts := Options{FS: vfs.Default, Dir: dir, SegmentBytes: 600}
	_, _, l, err := replay(t, opts, 0)
	var cerr *corruption.Error
	if !errors.As(err, &cerr) || cerr.File != filepath.Join(dir, NewestFileName) || !strings.Contains(cerr.Reason, filepath.Base(newest)) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Open with the newest segment removed: %v, want corruption naming %s and %s", err, NewestFileName, filepath.Base(newest))
	}
	if name, err := NewestMissing(vfs.Default, dir); err != nil || name != filepath.Base(newest) {
		t.Fatalf("NewestMissing: %q, %v; want %s", name, err, filepath.Base(newest))
	}

	opts.Repair = true
	got, rep, l, err := replay(t, opts, 0)
	if err != nil {
		t.Fatalf("Repair Open: %v", err)
	}
	end := got[len(got)-1].First + base.LSN(got[len(got)-1].Count) - 1
	if end < prevFirst || rep.LostFirstLSN != end+1 || rep.LostLastLSN != LostUnknown {
		t.Errorf("Repair Open: log ends at %d, lost %d..%d; want lost %d..LostUnknown", end, rep.LostFirstLSN, rep.LostLastLSN, end+1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed without SettleNewest (the bus's Open failed after): the
	// next Open finds the loss again.
	opts.Repair = false
	if _, _, l, err := replay(t, opts, 0); !errors.As(err, &cerr) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Open after a Repair Open that did not settle: %v, want corruption", err)
	}
	opts.Repair = true
	_, _, l, err = replay(t, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SettleNewest(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	opts.Repair = false
	_, rep, l, err = replay(t, opts, 0)
	if err != nil {
		t.Fatalf("Open after SettleNewest: %v", err)
	}
	defer l.Close()
	if rep.LostFirstLSN != 0 || rep.LastLSN != end {
		t.Errorf("Open after SettleNewest: last %d, lost %d; want last %d, nothing lost", rep.LastLSN, rep.LostFirstLSN, end)
	}
}

// TestNewestSegmentCrashPoints: what a crash leaves around a new segment
// opens without a loss reported. The file is written after the segment is
// durable, so a crash before it leaves it naming the segment before; a
// crash after it, before a record went in, leaves the new segment empty,
// which Open removes, naming the one before in the file first, so the
// next Open finds nothing missing; a torn header of the new segment (a
// crash while it was made) comes before the file names it.
func TestNewestSegmentCrashPoints(t *testing.T) {
	recs := genRecords(1, 30, 100)
	end := recs[len(recs)-1].First + base.LSN(recs[len(recs)-1].Count) - 1
	for _, tc := range []struct {
		name  string
		crash func(t *testing.T, dir string)
	}{
		{"file names the segment before", func(t *testing.T, dir string) {
			segs := segPaths(t, dir)
			first, _ := ParseSegmentName(filepath.Base(segs[len(segs)-2]))
			if err := writeNewest(vfs.Default, dir, first); err != nil {
				t.Fatal(err)
			}
		}},
		{"new segment empty", func(t *testing.T, dir string) {
			if err := CreateEmptySegment(vfs.Default, dir, end+1); err != nil {
				t.Fatal(err)
			}
		}},
		{"new segment torn header", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, SegmentName(end+1)), []byte("MMSBT"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, 600, recs)
			tc.crash(t, dir)
			opts := Options{FS: vfs.Default, Dir: dir, SegmentBytes: 600}
			for range 2 { // the Open after the crash, and the next one
				_, rep, l, err := replay(t, opts, 0)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				if rep.LastLSN != end || rep.LostFirstLSN != 0 {
					t.Fatalf("Open: last %d, lost %d; want last %d, nothing lost", rep.LastLSN, rep.LostFirstLSN, end)
				}
			}
		})
	}
}

// TestNewestFileMatchesFormatsDoc: the bytes of docs/formats.md's
// "Newest-segment file" table, built from the table alone, are what a log
// writes as it makes a segment and what ReadNewest reads; a flipped byte
// is ErrBadNewest.
func TestNewestFileMatchesFormatsDoc(t *testing.T) {
	const first = 0x0102030405060708
	want := make([]byte, 24)
	copy(want[0:8], "MMSBTLNS")
	binary.LittleEndian.PutUint32(want[8:12], 1) // version
	binary.LittleEndian.PutUint64(want[12:20], first)
	binary.LittleEndian.PutUint32(want[20:24], crc32.Checksum(want[0:20], crc32.MakeTable(crc32.Castagnoli)))
	fs := vfs.NewMem()
	if err := vfs.MkdirAllAndSync(fs, "/wal"); err != nil {
		t.Fatal(err)
	}
	if err := writeNewest(fs, "/wal", first); err != nil { // as a rotation writes it
		t.Fatal(err)
	}
	f, err := fs.Open("/wal/newest-segment")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 48)
	n, _ := f.ReadAt(got, 0)
	_ = f.Close()
	if !bytes.Equal(got[:n], want) {
		t.Fatalf("file %x, table %x", got[:n], want)
	}
	if lsn, err := ReadNewest(fs, "/wal"); err != nil || lsn != first {
		t.Fatalf("ReadNewest: %d, %v; want %d", lsn, err, base.LSN(first))
	}
	want[13] ^= 1
	if _, err := decodeNewest(want); !errors.Is(err, ErrBadNewest) {
		t.Fatalf("a flipped byte decodes: %v", err)
	}
}
