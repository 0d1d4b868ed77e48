//go:build unix

package tlog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// plantDir makes a directory holding a file at path (an operator's, a
// restored backup tree) and returns the file's path.
func plantDir(t *testing.T, path string) string {
	t.Helper()
	kept := filepath.Join(path, "notes")
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kept, []byte("the operator's"), 0o600); err != nil {
		t.Fatal(err)
	}
	return kept
}

// TestUnshareSegmentBesideDirectoryAtTemp: a directory holding files
// under the temporary name of a segment Open must copy (its .log.del: the
// last segment has another hard link, a backup's) is passed over, as
// Open's leftover cleanup passes over it: the copy goes through another
// temporary name (.log.copy.log.del), Open succeeds, the appends after it
// leave the backup whole, and the directory and its file are left as
// they are, with no temporary left behind. Before, Open failed:
// "vfs: unshare …031.log (it has other hard links …): remove …031.log.del:
// directory not empty".
func TestUnshareSegmentBesideDirectoryAtTemp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	opts := Options{FS: vfs.Default, Dir: dir, SegmentBytes: 256}
	l := openLog(t, opts)
	recs := genRecords(1, 20, 64)
	appendAll(t, l, recs)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := vfs.Default.List(dir)
	if err != nil || len(names) < 2 {
		t.Fatalf("segments %v, %v", names, err)
	}
	seg := filepath.Join(dir, names[len(names)-1])
	kept := plantDir(t, seg+delSuffix)
	backup := filepath.Join(t.TempDir(), "backup")
	if err := os.Link(seg, backup); err != nil {
		testutil.Missing(t, "hard link: %v", err)
	}
	before, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	l2, _, err := Open(opts, 0, nil)
	if err != nil {
		t.Fatalf("open beside a directory at %s: %v", seg+delSuffix, err)
	}
	last := recs[len(recs)-1]
	appendAll(t, l2, genRecords(last.First+base.LSN(last.Count), 3, 64))
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if after, err := os.ReadFile(backup); err != nil || string(after) != string(before) {
		t.Fatalf("the backup's hard link changed (%d bytes, was %d; %v): the copy was not made", len(after), len(before), err)
	}
	if got, err := os.ReadFile(kept); err != nil || string(got) != "the operator's" {
		t.Fatalf("the directory's file: %q, %v", got, err)
	}
	left, _ := vfs.Default.List(dir)
	for _, n := range left {
		if strings.HasSuffix(n, altTempSuffix) {
			t.Errorf("temporary %s left behind", n)
		}
	}
}

// TestRemoveSegmentBesideDirectoryAtTemp: a directory holding files under
// the .del name of a segment that a checkpoint covers does not stop the
// log's trimming: the segment is removed (at once, without the pacing),
// and the directory is left as it is. Before, RemoveThrough failed on
// every call ("rename …001.log …001.log.del: file exists"), and the log
// was never trimmed again.
func TestRemoveSegmentBesideDirectoryAtTemp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	l := openLog(t, Options{FS: vfs.Default, Dir: dir, SegmentBytes: 256})
	defer l.Close()
	appendAll(t, l, genRecords(1, 20, 64))
	names, err := vfs.Default.List(dir)
	if err != nil || len(names) < 3 {
		t.Fatalf("segments %v, %v", names, err)
	}
	first := filepath.Join(dir, names[0])
	kept := plantDir(t, first+delSuffix)
	second, ok := ParseSegmentName(names[1])
	if !ok {
		t.Fatalf("%s is no segment name", names[1])
	}
	n, err := l.RemoveThrough(second - 1)
	if err != nil || n != 1 {
		t.Fatalf("RemoveThrough(%d) beside a directory at %s: removed %d, %v; want 1", second-1, first+delSuffix, n, err)
	}
	if _, err := os.Lstat(first); !os.IsNotExist(err) {
		t.Errorf("%s: %v; want it removed", first, err)
	}
	if got, err := os.ReadFile(kept); err != nil || string(got) != "the operator's" {
		t.Fatalf("the directory's file: %q, %v", got, err)
	}
}
