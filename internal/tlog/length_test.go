package tlog

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// A corrupted length field in the middle of the last segment makes a frame
// look like it runs past the end of the file, as a torn write does. It must
// be reported as corruption, not truncated away with the intact records
// after it.
func TestCorruptLengthIsNotATornTail(t *testing.T) {
	dir := t.TempDir()
	recs := genRecords(1, 6, 100)
	writeLog(t, dir, 1<<20, recs)
	files, offs := recordOffsets(t, dir)
	b, err := os.ReadFile(files[2])
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[offs[2]:], 1<<24) // far past the end of the file
	if err := os.WriteFile(files[2], b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
	ce := asCorruption(t, err)
	if ce.File != files[2] || ce.Offset != offs[2] {
		t.Fatalf("corruption reported at %s:%d, want %s:%d", ce.File, ce.Offset, files[2], offs[2])
	}
	// A real torn tail (the last record cut short) is still truncated.
	dir2 := t.TempDir()
	writeLog(t, dir2, 1<<20, recs)
	files2, _ := recordOffsets(t, dir2)
	size := fileSize(t, files2[len(files2)-1])
	if err := os.Truncate(files2[len(files2)-1], size-7); err != nil {
		t.Fatal(err)
	}
	got, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir2}, 0)
	if err != nil {
		t.Fatalf("torn tail not recovered: %v", err)
	}
	l.Close()
	if len(got) != len(recs)-1 || rep.TornFile == "" {
		t.Fatalf("recovered %d records (want %d), report %+v", len(got), len(recs)-1, rep)
	}
}
