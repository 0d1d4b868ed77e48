package tlog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestRemoveThroughKeepsHardLinkedBackup: a covered segment that a backup
// hard-linked elsewhere (cp -al, rsync --link-dest) is unlinked from the
// log directory, and the backup keeps every byte. Before, the paced
// removal shrank the shared file: the backup of a 3 MiB segment was cut
// from 3,145,872 bytes to 1,048,720 (vfs.RemoveGradually,
// TestRemoveGraduallyKeepsHardLinkedCopy).
func TestRemoveThroughKeepsHardLinkedBackup(t *testing.T) {
	dir := t.TempDir()
	backupDir := t.TempDir()
	l := openLog(t, Options{FS: vfs.Default, Dir: dir, SegmentBytes: 3 << 20})
	defer l.Close()
	var recs []rec // 8 MiB: at least two full 3 MiB segments
	for lsn := base.LSN(1); lsn <= 16; lsn++ {
		recs = append(recs, rec{First: lsn, Count: 1, Payload: payloadFor(lsn, 512<<10)})
	}
	appendAll(t, l, recs)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	segs := segPaths(t, dir)
	if len(segs) < 2 {
		t.Fatalf("%d segments, want at least 2", len(segs))
	}
	first, err := os.Stat(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	if first.Size() <= vfs.RemoveStep {
		t.Fatalf("first segment is %d bytes, want more than one removal step (%d)", first.Size(), vfs.RemoveStep)
	}
	backup := filepath.Join(backupDir, filepath.Base(segs[0]))
	if err := os.Link(segs[0], backup); err != nil {
		testutil.Missing(t, "hard link: %v", err)
	}
	if n, err := l.RemoveThrough(1 << 62); err != nil || n < 1 {
		t.Fatalf("RemoveThrough = %d, %v; want the covered segments removed", n, err)
	}
	if _, err := os.Lstat(segs[0]); !os.IsNotExist(err) {
		t.Fatalf("%s still in the log directory (%v)", segs[0], err)
	}
	st, err := os.Stat(backup)
	if err != nil {
		t.Fatalf("hard-linked backup of the removed segment: %v", err)
	}
	if st.Size() != first.Size() {
		t.Fatalf("hard-linked backup of the removed segment is %d bytes, want its %d", st.Size(), first.Size())
	}
}
