package tlog

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

func TestSyncModeStrings(t *testing.T) {
	for _, m := range []SyncMode{SyncGroup, SyncAlways, SyncNone} {
		got, err := ParseSyncMode(m.String())
		if err != nil || got != m {
			t.Fatalf("ParseSyncMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseSyncMode("sometimes"); err == nil {
		t.Fatal("ParseSyncMode accepted a bad mode")
	}
}

func TestSegmentName(t *testing.T) {
	for _, lsn := range []base.LSN{1, 42, 1<<64 - 1} {
		got, ok := ParseSegmentName(SegmentName(lsn))
		if !ok || got != lsn {
			t.Fatalf("round trip of %d: %d %v", lsn, got, ok)
		}
	}
	for _, bad := range []string{"1.log", "00000000000000000000.log", "0000000000000000000a.log", "00000000000000000001.txt", "99999999999999999999.log"} {
		if _, ok := ParseSegmentName(bad); ok {
			t.Fatalf("ParseSegmentName(%q) accepted", bad)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name     string
		mode     SyncMode
		segBytes int64
		n, size  int
	}{
		{"group-one-segment", SyncGroup, 0, 200, 300},
		{"always-rotating", SyncAlways, 1024, 100, 300},
		{"none-rotating", SyncNone, 512, 300, 100},
		{"empty-payloads", SyncGroup, 0, 50, 0},
		{"big-records", SyncNone, 64 << 10, 20, 200 << 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want := genRecords(1, tc.n, tc.size)
			l := openLog(t, Options{FS: vfs.Default, Dir: dir, SegmentBytes: tc.segBytes, Sync: tc.mode})
			appendAll(t, l, want)
			st := l.Stats()
			last := want[len(want)-1].First + base.LSN(want[len(want)-1].Count) - 1
			// Only SyncNone acknowledges unsynced records: its last ones are
			// written, not durable.
			if st.Records != uint64(tc.n) || st.LastLSN != last || st.WrittenLSN != last ||
				(st.DurableLSN == last) == (tc.mode == SyncNone) {
				t.Fatalf("stats %+v", st)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			got, rep, l2, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer l2.Close()
			equalRecs(t, got, want)
			if rep.TornFile != "" || rep.FirstLSN != 1 || rep.LastLSN != last || rep.Segments != len(segPaths(t, dir)) {
				t.Fatalf("report %+v", rep)
			}
			if tc.segBytes > 0 && tc.segBytes < 4096 && rep.Segments < 2 {
				t.Fatalf("expected rotation, got %d segments", rep.Segments)
			}
			fromReader, err := readAll(t, dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			equalRecs(t, fromReader, want)
			infos, probs, checked := checkAll(t, dir)
			if len(probs) != 0 {
				t.Fatalf("Check problems: %v", probs)
			}
			equalRecs(t, checked, want)
			if infos[0].FirstLSN != 1 || infos[len(infos)-1].LastLSN != last {
				t.Fatalf("segment infos %+v", infos)
			}
		})
	}
}

func TestReopenContinues(t *testing.T) {
	dir := t.TempDir()
	recs := genRecords(1, 40, 64)
	writeLog(t, dir, 0, recs[:20])
	l := openLog(t, Options{FS: vfs.Default, Dir: dir})
	if got, want := l.LastLSN(), recs[19].First+base.LSN(recs[19].Count)-1; got != want {
		t.Fatalf("LastLSN %d, want %d", got, want)
	}
	if _, err := l.Append(recs[21].First, 1, nil); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("out-of-order Append: %v", err)
	}
	appendAll(t, l, recs[20:])
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, _, l2, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	equalRecs(t, got, recs)
}

func TestAppendRejects(t *testing.T) {
	l := openLog(t, Options{FS: vfs.Default, Dir: t.TempDir()})
	bad := []struct {
		name  string
		first base.LSN
		count uint32
		size  int
		want  error
	}{
		{"zero count", 1, 0, 0, ErrInvalidRecord},
		{"lsn zero", 0, 1, 0, ErrInvalidRecord},
		{"overflow", 1<<64 - 1, 2, 0, ErrInvalidRecord},
		{"too large", 1, 1, MaxRecordBytes + 1, ErrInvalidRecord},
	}
	for _, b := range bad {
		if _, err := l.Append(b.first, b.count, make([]byte, b.size)); !errors.Is(err, b.want) {
			t.Errorf("%s: got %v, want %v", b.name, err, b.want)
		}
	}
	// An empty log accepts any first LSN.
	if _, err := l.Append(1000, 5, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(1004, 1, nil); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("overlapping Append: %v", err)
	}
	if l.Err() != nil {
		t.Fatal("validation errors must not be sticky")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(1005, 1, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// TestTornTailEveryOffset cuts the last segment at every byte of its last
// record: recovery must always come back with the records before it.
func TestTornTailEveryOffset(t *testing.T) {
	src := t.TempDir()
	recs := genRecords(1, 3, 50)
	recs[2].Payload = payloadFor(9, 50)
	writeLog(t, src, 0, recs)
	files, offs := recordOffsets(t, src)
	seg, lastOff := files[2], offs[2]
	end := fileSize(t, seg)
	for cut := lastOff; cut < end; cut++ {
		dir := copyDir(t, src)
		path := filepath.Join(dir, filepath.Base(seg))
		if err := os.Truncate(path, cut); err != nil {
			t.Fatal(err)
		}
		got, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		equalRecs(t, got, recs[:2])
		if cut > lastOff && (rep.TornFile != path || rep.TornOffset != lastOff || rep.TornBytes != cut-lastOff) {
			t.Fatalf("cut at %d: report %+v", cut, rep)
		}
		if sz := fileSize(t, path); sz != lastOff {
			t.Fatalf("cut at %d: file is %d bytes after recovery, want %d", cut, sz, lastOff)
		}
		// The log goes on from the truncation point.
		appendAll(t, l, recs[2:])
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if got, err := readAll(t, dir, 0); err != nil {
			t.Fatal(err)
		} else {
			equalRecs(t, got, recs)
		}
	}
}

func TestTornTailVariants(t *testing.T) {
	recs := genRecords(1, 5, 80)
	recs[4].Payload = payloadFor(77, 80)
	cases := []struct {
		name   string
		damage func(t *testing.T, seg string, lastOff int64)
		keep   int // records that survive
	}{
		{"bad crc on last record", func(t *testing.T, seg string, lastOff int64) {
			flipByte(t, seg, lastOff+FrameHeaderSize+3)
		}, 4},
		{"zeros after last record", func(t *testing.T, seg string, _ int64) {
			appendBytes(t, seg, make([]byte, 4096))
		}, 5},
		{"bad crc then zeros", func(t *testing.T, seg string, lastOff int64) {
			flipByte(t, seg, lastOff+9)
			appendBytes(t, seg, make([]byte, 1000))
		}, 4},
		{"last record cut short", func(t *testing.T, seg string, _ int64) {
			if err := os.Truncate(seg, fileSize(t, seg)-3); err != nil {
				t.Fatal(err)
			}
		}, 4},
		{"last record zeroed", func(t *testing.T, seg string, lastOff int64) {
			size := fileSize(t, seg)
			if err := os.Truncate(seg, lastOff); err != nil {
				t.Fatal(err)
			}
			appendBytes(t, seg, make([]byte, size-lastOff))
		}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, 0, recs)
			files, offs := recordOffsets(t, dir)
			tc.damage(t, files[4], offs[4])
			_, probs, _ := checkAll(t, dir)
			if len(probs) != 1 || !strings.Contains(probs[0].Reason, "torn tail") {
				t.Fatalf("Check: %v", probs)
			}
			// A Reader, which changes nothing, ends the log where
			// recovery will cut it.
			read, err := readAll(t, dir, 0)
			if err != nil {
				t.Fatalf("Reader before recovery: %v", err)
			}
			equalRecs(t, read, recs[:tc.keep])
			got, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			equalRecs(t, got, recs[:tc.keep])
			wantOff := offs[4]
			if tc.keep == 5 {
				wantOff = fileSize(t, files[4]) // already truncated
			}
			if rep.TornFile != files[4] || rep.TornOffset != wantOff {
				t.Fatalf("report %+v, want torn at %d", rep, wantOff)
			}
			if _, probs, _ := checkAll(t, dir); len(probs) != 0 {
				t.Fatalf("after recovery Check: %v", probs)
			}
		})
	}
}

func appendBytes(t tb, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestEmptyLastSegment(t *testing.T) {
	for _, size := range []int{0, 7, SegmentHeaderSize, 100} {
		dir := t.TempDir()
		recs := genRecords(1, 10, 40)
		writeLog(t, dir, 0, recs)
		next := recs[9].First + base.LSN(recs[9].Count)
		empty := filepath.Join(dir, SegmentName(next))
		if err := os.WriteFile(empty, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		got, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		equalRecs(t, got, recs)
		if rep.Segments != 1 || rep.TornFile != empty || l.LastLSN() != next-1 {
			t.Fatalf("size %d: report %+v, LastLSN %d", size, rep, l.LastLSN())
		}
		appendAll(t, l, genRecords(next, 3, 10))
		l.Close()
	}
	// A header-only last segment is dropped too; the log resumes at its LSN.
	dir := t.TempDir()
	recs := genRecords(1, 10, 40)
	writeLog(t, dir, 0, recs)
	next := recs[9].First + base.LSN(recs[9].Count)
	if err := os.WriteFile(filepath.Join(dir, SegmentName(next)), appendSegmentHeader(nil, next), 0o644); err != nil {
		t.Fatal(err)
	}
	got, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
	if err != nil {
		t.Fatal(err)
	}
	equalRecs(t, got, recs)
	if rep.Segments != 1 || l.LastLSN() != next-1 {
		t.Fatalf("report %+v", rep)
	}
	l.Close()
}

func TestCorruptionInMiddle(t *testing.T) {
	recs := genRecords(1, 30, 100)
	for _, segBytes := range []int64{0, 600} { // one segment; many segments
		src := t.TempDir()
		writeLog(t, src, segBytes, recs)
		files, offs := recordOffsets(t, src)
		const bad = 10
		for _, field := range []struct {
			name string
			at   int64
		}{{"payload", FrameHeaderSize + 5}, {"lsn", 9}, {"count", 17}, {"crc", 5}, {"length", 0}} {
			t.Run(field.name, func(t *testing.T) {
				if field.name == "payload" && len(recs[bad].Payload) < 6 {
					t.Skip()
				}
				dir := copyDir(t, src)
				path := filepath.Join(dir, filepath.Base(files[bad]))
				flipByte(t, path, offs[bad]+field.at)
				_, _, _, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
				ce := asCorruption(t, err)
				if ce.File != path || ce.Offset != offs[bad] {
					t.Fatalf("corruption at %s:%d, want %s:%d (%s)", ce.File, ce.Offset, path, offs[bad], ce.Reason)
				}
				if _, err := readAll(t, dir, 0); !errors.Is(err, corruption.ErrCorruption) {
					t.Fatalf("Reader: %v", err)
				}
				_, probs, _ := checkAll(t, dir)
				if len(probs) == 0 || probs[0].File != path || probs[0].Offset != offs[bad] {
					t.Fatalf("Check problems %v", probs)
				}
				// Repair truncates at the bad record and drops the rest.
				got, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir, Repair: true}, 0)
				if err != nil {
					t.Fatal(err)
				}
				equalRecs(t, got, recs[:bad])
				if rep.RepairedFile != path || rep.RepairedOffset != offs[bad] || rep.DroppedRecords < 1 {
					t.Fatalf("repair report %+v", rep)
				}
				if field.name == "payload" && rep.DroppedRecords != len(recs)-bad {
					t.Fatalf("dropped %d records, want %d", rep.DroppedRecords, len(recs)-bad)
				}
				for _, f := range rep.DroppedFiles {
					if _, err := os.Stat(f); !os.IsNotExist(err) {
						t.Fatalf("dropped file %s still exists", f)
					}
				}
				appendAll(t, l, recs[bad:])
				l.Close()
				if _, probs, got := checkAll(t, dir); len(probs) != 0 {
					t.Fatalf("after repair: %v", probs)
				} else {
					equalRecs(t, got, recs)
				}
			})
		}
	}
}

// writeRaw writes a segment file by hand.
func writeRaw(t tb, dir string, name string, first base.LSN, frames ...rec) string {
	t.Helper()
	b := appendSegmentHeader(nil, first)
	for _, f := range frames {
		b = appendFrame(b, f.First, f.Count, f.Payload)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBadLogs(t *testing.T) {
	r := func(first base.LSN, count uint32) rec { return rec{first, count, []byte("payload")} }
	cases := []struct {
		name   string
		build  func(t *testing.T, dir string) (file string, off int64)
		reason string
	}{
		{"gap inside segment", func(t *testing.T, dir string) (string, int64) {
			return writeRaw(t, dir, SegmentName(1), 1, r(1, 2), r(4, 1), r(5, 1)), SegmentHeaderSize + FrameHeaderSize + 7
		}, "LSN gap"},
		{"first record does not match header", func(t *testing.T, dir string) (string, int64) {
			return writeRaw(t, dir, SegmentName(1), 1, r(2, 1), r(3, 1)), SegmentHeaderSize
		}, "LSN gap"},
		{"gap across segments", func(t *testing.T, dir string) (string, int64) {
			writeRaw(t, dir, SegmentName(1), 1, r(1, 3))
			writeRaw(t, dir, SegmentName(9), 9, r(9, 1))
			return writeRaw(t, dir, SegmentName(5), 5, r(5, 1)), 0
		}, "LSN gap"},
		{"header does not match name", func(t *testing.T, dir string) (string, int64) {
			writeRaw(t, dir, SegmentName(3), 3, r(3, 1))
			return writeRaw(t, dir, SegmentName(1), 2, r(2, 1)), 0
		}, "file name"},
		{"bad magic in first segment", func(t *testing.T, dir string) (string, int64) {
			p := writeRaw(t, dir, SegmentName(1), 1, r(1, 1))
			writeRaw(t, dir, SegmentName(2), 2, r(2, 1))
			flipByte(t, p, 2)
			return p, 0
		}, "checksum"},
		{"garbage header in last segment", func(t *testing.T, dir string) (string, int64) {
			writeRaw(t, dir, SegmentName(1), 1, r(1, 1))
			p := filepath.Join(dir, SegmentName(2))
			os.WriteFile(p, []byte("not a segment header at all, no"), 0o644)
			return p, 0
		}, "header"},
		{"bad version", func(t *testing.T, dir string) (string, int64) {
			p := writeHeaderFirst(t, dir, "MMSBTLOG", 2)
			writeRaw(t, dir, SegmentName(2), 2, r(2, 1))
			return p, 0
		}, "version"},
		{"zero count", func(t *testing.T, dir string) (string, int64) {
			return writeRaw(t, dir, SegmentName(1), 1, r(1, 1), r(2, 0), r(2, 1)), SegmentHeaderSize + FrameHeaderSize + 7
		}, "zero"},
		{"bad record in non-last segment", func(t *testing.T, dir string) (string, int64) {
			p := writeRaw(t, dir, SegmentName(1), 1, r(1, 1), r(2, 1))
			writeRaw(t, dir, SegmentName(3), 3, r(3, 1))
			flipByte(t, p, SegmentHeaderSize+FrameHeaderSize+7+FrameHeaderSize+1)
			return p, SegmentHeaderSize + FrameHeaderSize + 7
		}, "checksum"},
		{"truncated non-last segment", func(t *testing.T, dir string) (string, int64) {
			p := writeRaw(t, dir, SegmentName(1), 1, r(1, 1), r(2, 1))
			writeRaw(t, dir, SegmentName(3), 3, r(3, 1))
			os.Truncate(p, fileSize(t, p)-3)
			return p, SegmentHeaderSize + FrameHeaderSize + 7
		}, "past end"},
		// The rows below break one field with every checksum matching, so
		// that only the check named refuses it (the mutation review of
		// 2026-12-06: without them, removing that check failed no test).
		{"bad magic with a matching header checksum", func(t *testing.T, dir string) (string, int64) {
			p := writeHeaderFirst(t, dir, "MMSBTLOX", 1)
			writeRaw(t, dir, SegmentName(2), 2, r(2, 1))
			return p, 0
		}, "magic"},
		{"header first LSN 0 with a matching checksum", func(t *testing.T, dir string) (string, int64) {
			p := writeRaw(t, dir, SegmentName(1), 0, r(1, 1))
			writeRaw(t, dir, SegmentName(2), 2, r(2, 1))
			return p, 0
		}, "first LSN is 0"},
		{"record first LSN 0", func(t *testing.T, dir string) (string, int64) {
			return writeRaw(t, dir, SegmentName(1), 1, r(1, 1), r(0, 1), r(2, 1)), SegmentHeaderSize + FrameHeaderSize + 7
		}, "record first LSN is 0"},
		{"record LSN range overflows", func(t *testing.T, dir string) (string, int64) {
			return writeRaw(t, dir, SegmentName(1), 1, r(1, 1), r(math.MaxUint64, 2), r(2, 1)), SegmentHeaderSize + FrameHeaderSize + 7
		}, "overflows"},
		{"bad checksum in the last segment followed by non-zero bytes", func(t *testing.T, dir string) (string, int64) {
			// Not a torn tail: a torn write leaves zeros or nothing after
			// the frame it tore.
			p := writeRaw(t, dir, SegmentName(1), 1, r(1, 1), r(2, 1))
			flipByte(t, p, SegmentHeaderSize+FrameHeaderSize+7+FrameHeaderSize+1)
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("no frame, and not zeros"))
			f.Close()
			return p, SegmentHeaderSize + FrameHeaderSize + 7
		}, "checksum"},
		{"record length past the maximum", func(t *testing.T, dir string) (string, int64) {
			// The file holds the bytes the length claims (a sparse hole),
			// so only the maximum refuses it before a 256 MiB read.
			p := writeRaw(t, dir, SegmentName(1), 1, r(1, 1))
			off := fileSize(t, p)
			var h [FrameHeaderSize]byte
			binary.LittleEndian.PutUint32(h[0:], MaxRecordBytes+1)
			binary.LittleEndian.PutUint64(h[8:], 2)
			binary.LittleEndian.PutUint32(h[16:], 1)
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(h[:])
			f.Close()
			if err := os.Truncate(p, off+FrameHeaderSize+MaxRecordBytes+1); err != nil {
				t.Fatal(err)
			}
			writeRaw(t, dir, SegmentName(2), 2, r(2, 1))
			return p, off
		}, "exceeds maximum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file, off := tc.build(t, dir)
			_, probs, _ := checkAll(t, dir)
			found := false
			for _, p := range probs {
				found = found || (p.File == file && p.Offset == off && strings.Contains(p.Reason, tc.reason))
			}
			if !found {
				t.Fatalf("Check did not report %s:%d %q: %v", file, off, tc.reason, probs)
			}
			_, _, _, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
			ce := asCorruption(t, err)
			if ce.File != file || ce.Offset != off || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("Open: %v, want %s:%d %q", err, file, off, tc.reason)
			}
			if _, err := readAll(t, dir, 0); !errors.Is(err, corruption.ErrCorruption) {
				t.Fatalf("Reader: %v", err)
			}
			// Repair leaves a log that checks clean and accepts appends.
			_, _, l, err := replay(t, Options{FS: vfs.Default, Dir: dir, Repair: true}, 0)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			l.Close()
			if _, probs, _ := checkAll(t, dir); len(probs) != 0 {
				t.Fatalf("after repair: %v", probs)
			}
		})
	}
}

func TestRotationAndReaderFrom(t *testing.T) {
	dir := t.TempDir()
	recs := genRecords(1, 400, 60)
	writeLog(t, dir, 300, recs)
	paths := segPaths(t, dir)
	if len(paths) < 20 {
		t.Fatalf("only %d segments", len(paths))
	}
	last := recs[len(recs)-1].First + base.LSN(recs[len(recs)-1].Count) - 1
	for _, from := range []base.LSN{0, 1, 2, 100, 101, 333, last - 1, last, last + 1} {
		got, err := readAll(t, dir, from)
		if err != nil {
			t.Fatal(err)
		}
		var want []rec
		for _, r := range recs {
			if r.First+base.LSN(r.Count)-1 >= from {
				want = append(want, r)
			}
		}
		equalRecs(t, got, want)
		// Open replays records holding any LSN > from.
		replayed, _, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, from)
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		want = want[:0]
		for _, r := range recs {
			if r.First+base.LSN(r.Count)-1 > from {
				want = append(want, r)
			}
		}
		equalRecs(t, replayed, want)
	}
	// Segments wholly before replayFrom are not read: damage in one of their
	// records goes unnoticed by Open (Check still sees it).
	flipByte(t, paths[1], SegmentHeaderSize+FrameHeaderSize+1)
	if _, _, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 300); err != nil {
		t.Fatalf("Open past a damaged old segment: %v", err)
	} else {
		l.Close()
	}
	if _, probs, _ := checkAll(t, dir); len(probs) == 0 {
		t.Fatal("Check missed the damaged segment")
	}
}

func TestRemoveThrough(t *testing.T) {
	dir := t.TempDir()
	recs := genRecords(1, 200, 60)
	l := openLog(t, Options{FS: vfs.Default, Dir: dir, SegmentBytes: 400})
	appendAll(t, l, recs)
	before := len(segPaths(t, dir))
	infos, _, _ := checkAll(t, dir)
	cut := infos[4].LastLSN // segments 0..4 are wholly <= cut
	n, err := l.RemoveThrough(cut)
	if err != nil || n != 5 {
		t.Fatalf("RemoveThrough(%d) = %d, %v", cut, n, err)
	}
	if after := len(segPaths(t, dir)); after != before-5 || l.Stats().Segments != after || l.Stats().SegmentsGone != 5 {
		t.Fatalf("%d segments left of %d, stats %+v", after, before, l.Stats())
	}
	// Removing through everything keeps the active segment.
	if _, err := l.RemoveThrough(1 << 62); err != nil {
		t.Fatal(err)
	}
	if len(segPaths(t, dir)) != 1 {
		t.Fatalf("active segment removed or others kept: %v", segPaths(t, dir))
	}
	more := genRecords(l.LastLSN()+1, 20, 60)
	appendAll(t, l, more)
	l.Close()
	got, rep, l2, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	if rep.FirstLSN != got[0].First || got[len(got)-1].First != more[len(more)-1].First {
		t.Fatalf("report %+v", rep)
	}
}

func TestGroupCommitConcurrent(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{FS: vfs.Default, Dir: dir, SegmentBytes: 64 << 10})
	const workers, per = 16, 60
	var (
		appendMu sync.Mutex // the bus serialises Append like this
		ackMu    sync.Mutex
		acked    = map[base.LSN][]byte{}
		wg       sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				appendMu.Lock()
				first := l.LastLSN() + 1
				p := payloadFor(first, 100+i)
				tk, err := l.Append(first, 1, p)
				appendMu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				if err := l.Wait(context.Background(), tk); err != nil {
					t.Error(err)
					return
				}
				ackMu.Lock()
				acked[first] = p
				ackMu.Unlock()
			}
		}()
	}
	wg.Wait()
	st := l.Stats()
	if st.Syncs >= workers*per {
		t.Fatalf("%d fsyncs for %d commits: no grouping", st.Syncs, workers*per)
	}
	t.Logf("%d commits, %d fsyncs, %d writes, %d segments", workers*per, st.Syncs, st.Writes, st.Segments)
	l.Close()
	got, err := readAll(t, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(acked) {
		t.Fatalf("read %d records, acknowledged %d", len(got), len(acked))
	}
	for _, r := range got {
		if p, ok := acked[r.First]; !ok || string(p) != string(r.Payload) {
			t.Fatalf("record %d differs from the acknowledged one", r.First)
		}
	}
}

func TestStickyError(t *testing.T) {
	for _, mode := range []SyncMode{SyncGroup, SyncAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			fs := &faultFS{FS: vfs.Default}
			dir := t.TempDir()
			l := openLog(t, Options{FS: fs, Dir: dir, Sync: mode})
			appendAll(t, l, genRecords(1, 5, 20))
			fs.failSync.Store(true)
			tk, err := l.Append(l.LastLSN()+1, 1, []byte("doomed"))
			if mode == SyncGroup {
				if err != nil {
					t.Fatalf("Append before the fsync: %v", err)
				}
				err = l.Wait(context.Background(), tk)
			}
			if !errors.Is(err, errInjected) {
				t.Fatalf("commit error %v", err)
			}
			syncs := fs.syncs.Load()
			fs.failSync.Store(false) // the log must not retry even if fsync would work now
			if !errors.Is(l.Err(), errInjected) {
				t.Fatalf("Err() = %v", l.Err())
			}
			if _, err := l.Append(100, 1, nil); !errors.Is(err, errInjected) {
				t.Fatalf("Append after failure: %v", err)
			}
			if err := l.Wait(context.Background(), Ticket{LSN: 100}); !errors.Is(err, errInjected) {
				t.Fatalf("Wait after failure: %v", err)
			}
			if err := l.Sync(); !errors.Is(err, errInjected) {
				t.Fatalf("Sync after failure: %v", err)
			}
			if err := l.Close(); !errors.Is(err, errInjected) {
				t.Fatalf("Close after failure: %v", err)
			}
			if fs.syncs.Load() != syncs {
				t.Fatal("fsync was retried after a failure")
			}
		})
	}
}

func TestWaitRespectsContext(t *testing.T) {
	fs := &faultFS{FS: vfs.Default, blockSync: make(chan struct{}), inSync: make(chan struct{})}
	dir := t.TempDir()
	l := openLog(t, Options{FS: fs, Dir: dir})
	// The first Append creates the segment, which fsyncs: let that pass.
	go func() { <-fs.inSync; close(fs.blockSync) }()
	tk, err := l.Append(1, 1, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	l.Close()

	// Open fsyncs the active segment: let that pass, block the next one.
	fs = &faultFS{FS: vfs.Default}
	l, _, err = Open(Options{FS: fs, Dir: dir}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	fs.blockSync, fs.inSync = make(chan struct{}), make(chan struct{})
	t1, _ := l.Append(2, 1, []byte("b"))
	leader := make(chan error)
	go func() { leader <- l.Wait(context.Background(), t1) }()
	<-fs.inSync // the leader is inside fsync
	t2, err := l.Append(3, 1, []byte("c"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, t2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context: %v", err)
	}
	close(fs.blockSync)
	if err := <-leader; err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(context.Background(), t2); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReaderWhileWriting(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{FS: vfs.Default, Dir: dir, SegmentBytes: 2048})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 400; i++ {
			first := l.LastLSN() + 1
			tk, err := l.Append(first, 2, payloadFor(first, 50))
			if err == nil {
				err = l.Wait(context.Background(), tk)
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		durable := l.Stats().DurableLSN
		got, err := readAll(t, dir, 0)
		if err != nil {
			t.Fatalf("Reader during writes: %v", err)
		}
		var last base.LSN
		for i, r := range got {
			if r.First != base.LSN(2*i+1) || string(r.Payload) != string(payloadFor(r.First, 50)) {
				t.Fatalf("record %d wrong", i)
			}
			last = r.First + 1
		}
		if last < durable {
			t.Fatalf("reader saw up to %d, durable was %d", last, durable)
		}
	}
	l.Close()
}

func TestAppendAllocs(t *testing.T) {
	payload := payloadFor(1, 512)
	for _, mode := range []SyncMode{SyncNone, SyncGroup} {
		l := openLog(t, Options{FS: vfs.Default, Dir: t.TempDir(), Sync: mode})
		next := base.LSN(1)
		step := func() {
			tk, err := l.Append(next, 1, payload)
			if err != nil {
				t.Fatal(err)
			}
			next++
			if mode == SyncGroup && next%16 == 0 {
				if err := l.Wait(context.Background(), tk); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := 0; i < 64; i++ {
			step()
		}
		if a := testing.AllocsPerRun(200, step); a != 0 {
			t.Errorf("%s: Append allocates %.2f times per record", mode, a)
		}
		l.Close()
	}
}

// TestRemoveLeftoverSegment is a crash in the middle of removing a covered
// segment (removeSegment renames it, then shrinks it): the half-removed
// file, even cut mid-frame, is neither read by recovery nor left behind,
// and the log opens with its records intact. The control is the same file
// under its segment name: recovery reads it and refuses the cut frame.
func TestRemoveLeftoverSegment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		suffix string
		wantOK bool
	}{{"renamed for removal", delSuffix, true}, {"under its segment name (control)", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			recs := genRecords(1, 200, 60)
			l := openLog(t, Options{FS: vfs.Default, Dir: dir, SegmentBytes: 400})
			appendAll(t, l, recs)
			l.Close()
			segs := segPaths(t, dir)
			// A copy of the first segment cut mid-frame, as removeSegment
			// leaves it after renaming and partly shrinking it. The control
			// writes it over the first segment itself instead.
			b, err := os.ReadFile(segs[0])
			if err != nil {
				t.Fatal(err)
			}
			first := filepath.Join(dir, SegmentName(1))
			if err := os.WriteFile(first+tc.suffix, b[:len(b)/2+3], 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, l2, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
			if (err == nil) != tc.wantOK {
				t.Fatalf("open with the leftover: %v, want ok %v", err, tc.wantOK)
			}
			if err != nil {
				return
			}
			l2.Close()
			if _, err := os.Stat(first + delSuffix); !os.IsNotExist(err) {
				t.Fatalf("leftover %s not removed at open: %v", first+delSuffix, err)
			}
		})
	}
}

// writeHeaderFirst writes segment 1 with the given magic and version in a
// header whose checksum matches (so that only the magic or version check
// can refuse it) and one record; it returns segment
// 1's path (the caller writes segment 2).
func writeHeaderFirst(t *testing.T, dir, magic string, version uint32) string {
	t.Helper()
	h := append([]byte(magic), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(h[8:], version)
	h = binary.LittleEndian.AppendUint64(h, 1)
	b := binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
	b = appendFrame(b, 1, 1, nil)
	p := filepath.Join(dir, SegmentName(1))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
