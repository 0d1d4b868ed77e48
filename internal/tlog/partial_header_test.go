package tlog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestOpenDropsPartialSegmentHeader: a rotation whose header write was
// short (a failed write, or a crash before the header's fsync keeping part
// of it) leaves a last segment holding the first bytes of its header. It
// holds no record, so Open drops it as a torn tail, as it drops a
// zero-filled one. Open refused it with ErrCorruption ("segment header
// truncated") until 2026-12-05, so the directory needed Repair
// (TestFaultSweep found it). Control: a short last segment whose bytes are
// not its header's is still corruption.
func TestOpenDropsPartialSegmentHeader(t *testing.T) {
	for size := 1; size < SegmentHeaderSize; size++ {
		dir := t.TempDir()
		recs := genRecords(1, 10, 40)
		writeLog(t, dir, 0, recs)
		next := recs[9].First + base.LSN(recs[9].Count)
		partial := filepath.Join(dir, SegmentName(next))
		if err := os.WriteFile(partial, appendSegmentHeader(nil, next)[:size], 0o644); err != nil {
			t.Fatal(err)
		}
		got, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
		if err != nil {
			t.Fatalf("%d bytes of header: %v", size, err)
		}
		equalRecs(t, got, recs)
		if rep.Segments != 1 || rep.TornFile != partial || rep.TornBytes != int64(size) || l.LastLSN() != next-1 {
			t.Fatalf("%d bytes of header: report %+v, LastLSN %d", size, rep, l.LastLSN())
		}
		appendAll(t, l, genRecords(next, 3, 10))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}

		// Control: the same length of other bytes.
		dir = t.TempDir()
		writeLog(t, dir, 0, recs)
		other := appendSegmentHeader(nil, next+1)[:size]
		other[0] ^= 0xff
		if err := os.WriteFile(filepath.Join(dir, SegmentName(next)), other, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0); !errors.Is(err, corruption.ErrCorruption) {
			t.Fatalf("%d bytes that are not the header: %v, want ErrCorruption", size, err)
		}
	}
}
