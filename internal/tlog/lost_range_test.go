package tlog

import (
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestRepairReportsLostRange: Repair reported the records and files it
// dropped but not which LSNs they held, what an operator must tell users
// ("commits from LSN a to b are gone"). A record damaged in the middle
// of the log is cut with every record after it: the report names the
// first LSN dropped and the last, read from the last intact record or the
// next segment's name, or LostUnknown when a damaged length leaves the
// rest unreadable. LSNs that the replay start covers are not lost.
func TestRepairReportsLostRange(t *testing.T) {
	recs := genRecords(1, 30, 100)
	last := recs[len(recs)-1].First + base.LSN(recs[len(recs)-1].Count) - 1
	const bad = 10
	for _, segBytes := range []int64{0, 600} { // one segment; many segments
		src := t.TempDir()
		writeLog(t, src, segBytes, recs)
		files, offs := recordOffsets(t, src)
		for _, field := range []struct {
			name string
			at   int64
		}{{"payload", FrameHeaderSize + 5}, {"lsn", 9}, {"count", 17}, {"crc", 5}, {"length", 0}} {
			if field.name == "payload" && len(recs[bad].Payload) < 6 {
				continue
			}
			dir := copyDir(t, src)
			path := filepath.Join(dir, filepath.Base(files[bad]))
			flipByte(t, path, offs[bad]+field.at)
			// The segment after the damaged record's, if any: its name
			// bounds a damaged length's record.
			laterSegment := false
			for _, f := range files[bad+1:] {
				laterSegment = laterSegment || f != files[bad]
			}
			wantLast := last
			if field.name == "length" && !laterSegment {
				wantLast = LostUnknown
			}
			_, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir, Repair: true}, 0)
			if err != nil {
				t.Fatalf("seg %d %s: %v", segBytes, field.name, err)
			}
			l.Close()
			if rep.LostFirstLSN != recs[bad].First || rep.LostLastLSN != wantLast {
				t.Fatalf("seg %d %s: lost LSNs %d..%d, want %d..%d (report %+v)",
					segBytes, field.name, rep.LostFirstLSN, rep.LostLastLSN, recs[bad].First, wantLast, rep)
			}
		}
	}

	// Replayed from past the damaged record (a checkpoint holds the LSNs
	// up to there): only the LSNs after it are lost, and none when it
	// holds them all. A damaged length cannot be skipped as covered.
	src := t.TempDir()
	writeLog(t, src, 0, recs)
	files, offs := recordOffsets(t, src)
	for _, c := range []struct {
		from                base.LSN
		wantFirst, wantLast base.LSN
	}{
		{recs[bad+2].First, recs[bad+2].First + 1, LostUnknown},
		{0, recs[bad].First, LostUnknown},
	} {
		dir := copyDir(t, src)
		flipByte(t, filepath.Join(dir, filepath.Base(files[bad])), offs[bad]) // the length
		_, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir, Repair: true}, c.from)
		if err != nil {
			t.Fatalf("from %d: %v", c.from, err)
		}
		l.Close()
		if rep.LostFirstLSN != c.wantFirst || rep.LostLastLSN != c.wantLast {
			t.Fatalf("from %d: lost LSNs %d..%d, want %d..%d", c.from, rep.LostFirstLSN, rep.LostLastLSN, c.wantFirst, c.wantLast)
		}
	}

	// The last record of a segment with a damaged length, and after it
	// a segment that holds no record (a rotation and then a crash): its
	// name says where the damaged record ended.
	{
		dir := t.TempDir()
		writeLog(t, dir, 600, recs)
		files, offs := recordOffsets(t, dir)
		n := len(recs) - 1
		if err := CreateEmptySegment(vfs.Default, dir, last+1); err != nil {
			t.Fatal(err)
		}
		flipByte(t, files[n], offs[n]) // the length
		_, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir, Repair: true}, 0)
		if err != nil {
			t.Fatalf("damaged last record before an empty segment: %v", err)
		}
		l.Close()
		if rep.LostFirstLSN != recs[n].First || rep.LostLastLSN != last {
			t.Fatalf("damaged last record before an empty segment: lost LSNs %d..%d, want %d..%d (report %+v)",
				rep.LostFirstLSN, rep.LostLastLSN, recs[n].First, last, rep)
		}
	}

	// A clean log reports nothing lost.
	_, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: copyDir(t, src), Repair: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if rep.LostFirstLSN != 0 || rep.LostLastLSN != 0 || rep.DroppedRecords != 0 {
		t.Fatalf("clean log: report %+v", rep)
	}
}
