package tlog

import (
	"bytes"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// Locate + NewReaderAt find the record holding any LSN, like a reader that
// scans from the segment start, before and after a reopen (the index is
// rebuilt by recovery) and after segments are removed.
func TestLocateAndReaderAt(t *testing.T) {
	dir := t.TempDir()
	recs := genRecords(1, 3000, 2000) // ~3 MB over 1 MiB segments: several index entries per segment
	opts := Options{FS: vfs.Default, Dir: dir, SegmentBytes: 1 << 20}
	l := openLog(t, opts)
	appendAll(t, l, recs)
	check := func(l *Log, from int) {
		t.Helper()
		for i := from; i < len(recs); i += 97 {
			want := recs[i]
			lsn := want.First + base.LSN(want.Count) - 1 // the record's last LSN
			pos, ok := l.Locate(lsn)
			if !ok || pos.FirstLSN > lsn {
				t.Fatalf("Locate(%d) = %+v, %v", lsn, pos, ok)
			}
			r, err := NewReaderAt(vfs.Default, dir, pos, lsn)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Next()
			if err != nil {
				t.Fatalf("NewReaderAt(%+v, %d).Next: %v", pos, lsn, err)
			}
			if got.FirstLSN != want.First || !bytes.Equal(got.Payload, want.Payload) {
				t.Fatalf("LSN %d: got record %d, want %d", lsn, got.FirstLSN, want.First)
			}
			r.Close()
		}
	}
	check(l, 0)
	if n := len(l.index); n < 6 {
		t.Fatalf("index has %d entries for ~3 MB of log, want one per 256 KiB", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, _, err := Open(opts, 0, func(*Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	check(l2, 0)
	cut := recs[1500].First
	if _, err := l2.RemoveThrough(cut); err != nil {
		t.Fatal(err)
	}
	if pos, ok := l2.Locate(1); ok && pos.FirstLSN < l2.segs[0].first {
		t.Fatalf("index still points into a removed segment: %+v", pos)
	}
	check(l2, 1600)
}
