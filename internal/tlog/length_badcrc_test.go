package tlog

import (
	"os"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCorruptLengthToEndOfFileIsNotATornTail: one flipped bit in the
// length field of a record in the last segment can make the frame end
// exactly at the end of the file, swallowing the intact record after it.
// Its checksum then fails with nothing after it, which is what a torn last
// write looks like, but the record inside it is intact and acknowledged:
// it must be reported as corruption, not truncated away. Before the fix it
// was truncated as a torn tail and the last two records were dropped.
func TestCorruptLengthToEndOfFileIsNotATornTail(t *testing.T) {
	dir := t.TempDir()
	// Six one-LSN records of 108 bytes: 128-byte frames, so that setting
	// bit 7 of a length (108 -> 236) makes the frame cover exactly the
	// next (last) frame too.
	var recs []rec
	for i := range 6 {
		lsn := base.LSN(i + 1)
		recs = append(recs, rec{First: lsn, Count: 1, Payload: payloadFor(lsn, 108)})
	}
	writeLog(t, dir, 1<<20, recs)
	files, offs := recordOffsets(t, dir)
	victim := len(offs) - 2
	b, err := os.ReadFile(files[victim])
	if err != nil {
		t.Fatal(err)
	}
	if b[offs[victim]] != 108 || int64(len(b))-offs[victim] != 2*128 {
		t.Fatalf("layout: length byte %d, %d bytes from the frame to the end", b[offs[victim]], int64(len(b))-offs[victim])
	}
	b[offs[victim]] ^= 0x80
	if err := os.WriteFile(files[victim], b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
	if err == nil {
		l.Close()
		t.Fatalf("recovered with the intact last record dropped: %+v", rep)
	}
	ce := asCorruption(t, err)
	if ce.File != files[victim] || ce.Offset != offs[victim] {
		t.Fatalf("corruption reported at %s:%d, want %s:%d", ce.File, ce.Offset, files[victim], offs[victim])
	}
	// Control: the same frame with its payload torn (bad checksum, nothing
	// intact after it) is a torn tail, truncated.
	dir2 := t.TempDir()
	writeLog(t, dir2, 1<<20, recs)
	files2, offs2 := recordOffsets(t, dir2)
	last := len(offs2) - 1
	flipByte(t, files2[last], offs2[last]+FrameHeaderSize+50)
	got, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir2}, 0)
	if err != nil {
		t.Fatalf("torn tail not recovered: %v", err)
	}
	l.Close()
	if len(got) != len(recs)-1 || rep.TornFile != files2[last] {
		t.Fatalf("recovered %d records (want %d), report %+v", len(got), len(recs)-1, rep)
	}
}
