package tlog

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/vfs"
)

// FuzzReadSegment treats arbitrary bytes as the only segment of a log:
// Check and Reader must never panic and must agree on the good records,
// and Open (which may truncate) must either fail with corruption or leave a
// log that Check finds clean.
func FuzzReadSegment(f *testing.F) {
	b := appendSegmentHeader(nil, 1)
	b = appendFrame(b, 1, 2, []byte("hello"))
	b = appendFrame(b, 3, 1, nil)
	b = appendFrame(b, 4, 1, []byte("world, a little longer"))
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
		var checked int
		var probs []Problem
		if _, err := Check(vfs.Default, dir, func(*Record) error { checked++; return nil },
			func(p Problem) { probs = append(probs, p) }); err != nil {
			t.Fatalf("Check: %v", err)
		}
		r, err := NewReader(vfs.Default, dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		read := 0
		for {
			_, err := r.Next()
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
			read++
		}
		r.Close()
		if read > checked {
			t.Fatalf("Reader returned %d records, Check %d", read, checked)
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
