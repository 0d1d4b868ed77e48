package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// FuzzCheckpoint feeds arbitrary bytes to the reader: it must never panic
// or allocate beyond the file, anything it accepts must re-encode to the
// same bytes, and the valid seed must be accepted (a reader that refused
// everything passed this target before).
func FuzzCheckpoint(f *testing.F) {
	dir := f.TempDir()
	path := writeCheckpoint(f, vfs.Default, dir, 42, sampleRecords(3))
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:HeaderSize])
	f.Add([]byte("MMSBCKPT"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "x.ckpt")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		lsn, recs, err := readCheckpoint(vfs.Default, p)
		if err != nil {
			if bytes.Equal(data, valid) {
				t.Fatalf("valid checkpoint refused: %v", err)
			}
			return
		}
		again := writeCheckpoint(t, vfs.Default, dir, lsn, recs)
		b, err := os.ReadFile(again)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(data) {
			t.Fatalf("accepted checkpoint does not re-encode to the same bytes")
		}
	})
}
