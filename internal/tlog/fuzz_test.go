package tlog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/vfs"
)

// FuzzReadSegment treats arbitrary bytes as the only segment of a log:
// Check and Reader must never panic and must agree on the good records
// (the Reader's are the first of Check's, record for record, and all of
// them when Check found no problem: only a count was compared once, so a
// Reader that stopped early passed), the valid seed holds its three
// records, and Open (which may truncate) must either fail with corruption
// or leave a log that Check finds clean.
func FuzzReadSegment(f *testing.F) {
	b := appendSegmentHeader(nil, 1)
	b = appendFrame(b, 1, 2, []byte("hello"))
	b = appendFrame(b, 3, 1, nil)
	b = appendFrame(b, 4, 1, []byte("world, a little longer"))
	valid := b
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Add(append(b[:len(b):len(b)], make([]byte, 30)...))
	f.Add(b[:SegmentHeaderSize])
	f.Add([]byte("MMSBTLOG"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, SegmentName(1))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var checked []Record
		var probs []Problem
		if _, err := Check(vfs.Default, dir, func(r *Record) error {
			c := *r
			c.Payload = bytes.Clone(r.Payload)
			checked = append(checked, c)
			return nil
		}, func(p Problem) { probs = append(probs, p) }); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if bytes.Equal(data, valid) && (len(checked) != 3 || len(probs) != 0) {
			t.Fatalf("valid segment: Check found %d records, problems %v; want 3 records", len(checked), probs)
		}
		r, err := NewReader(vfs.Default, dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		read := 0
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if !errors.Is(err, corruption.ErrCorruption) {
					t.Fatalf("Reader: %v", err)
				}
				if len(probs) == 0 {
					t.Fatalf("Reader found corruption that Check did not: %v", err)
				}
				break
			}
			if read >= len(checked) {
				t.Fatalf("Reader returned record %d (LSN %d), Check only %d", read+1, rec.FirstLSN, len(checked))
			}
			if c := checked[read]; rec.FirstLSN != c.FirstLSN || rec.Count != c.Count || rec.Offset != c.Offset || !bytes.Equal(rec.Payload, c.Payload) {
				t.Fatalf("record %d: Reader LSN %d+%d at %d, Check LSN %d+%d at %d (or payloads differ)",
					read+1, rec.FirstLSN, rec.Count, rec.Offset, c.FirstLSN, c.Count, c.Offset)
			}
			read++
		}
		r.Close()
		if len(probs) == 0 && read != len(checked) {
			t.Fatalf("no problem found, but Reader returned %d records, Check %d", read, len(checked))
		}
		l, _, err := Open(Options{FS: vfs.Default, Dir: dir}, 0, nil)
		if err != nil {
			if !errors.Is(err, corruption.ErrCorruption) {
				t.Fatalf("Open: %v", err)
			}
			return
		}
		l.Close()
		if _, after, _ := checkAll(t, dir); len(after) != 0 {
			t.Fatalf("after recovery Check reports %v", after)
		}
	})
}
