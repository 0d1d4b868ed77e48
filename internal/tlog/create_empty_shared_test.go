package tlog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestCreateEmptySegmentKeepsSharedFile: CreateEmptySegment over a name
// that already holds a file shared with another name (a hard link from a
// backup made with `cp -al`, or a symbolic link to an archived segment)
// gives the name a new file holding the header only, and the other name's
// file keeps every byte. Before, the name was opened with truncation
// before rewriteHeader unshared it: the shared file was cut to nothing,
// the backup's copy with it. No temporary name is left behind.
func TestCreateEmptySegmentKeepsSharedFile(t *testing.T) {
	for _, symbolic := range []bool{false, true} {
		name := "hard"
		if symbolic {
			name = "symbolic"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wal")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			backup := filepath.Join(t.TempDir(), "kept.log")
			want := []byte("the backup's bytes, which CreateEmptySegment must not touch")
			if err := os.WriteFile(backup, want, 0o600); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, SegmentName(11))
			link := os.Link
			if symbolic {
				link = os.Symlink
			}
			if err := link(backup, path); err != nil {
				t.Skipf("link: %v", err)
			}
			if err := CreateEmptySegment(vfs.Default, dir, 11); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(backup); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("the other name's file holds %q (%v), want %q", got, err, want)
			}
			st, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Mode().IsRegular() || st.Size() != SegmentHeaderSize {
				t.Fatalf("%s: mode %v, %d bytes; want a regular file holding the %d-byte header", path, st.Mode(), st.Size(), SegmentHeaderSize)
			}
			// The log continues at 11.
			l, _, err := Open(Options{FS: vfs.Default, Dir: dir, KeepSegment: true}, 10, nil)
			if err != nil {
				t.Fatalf("open the new segment: %v", err)
			}
			defer l.Close()
			if _, err := l.Append(11, 1, []byte("x")); err != nil {
				t.Errorf("append LSN 11 to the new segment: %v", err)
			}
			names, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 1 {
				var all []string
				for _, n := range names {
					all = append(all, n.Name())
				}
				t.Errorf("%s holds %v, want the segment alone", dir, all)
			}
		})
	}
}
