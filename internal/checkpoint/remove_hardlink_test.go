package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestRemoveKeepsHardLinkedBackup: pruning a checkpoint that a backup
// hard-linked elsewhere (cp -al, rsync --link-dest) unlinks it from the
// checkpoint directory and leaves the backup whole. Before, Remove's paced
// shrinking cut the shared file: the backup of a 3 MiB checkpoint kept
// 1 MiB (vfs.RemoveGradually, TestRemoveGraduallyKeepsHardLinkedCopy).
func TestRemoveKeepsHardLinkedBackup(t *testing.T) {
	dir, backupDir := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, FileName(7))
	want := bytes.Repeat([]byte("c"), vfs.RemoveStep+1<<20)
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(backupDir, FileName(7))
	if err := os.Link(path, backup); err != nil {
		testutil.Missing(t, "hard link: %v", err)
	}
	if err := Remove(vfs.Default, path, nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{path, filepath.Join(dir, strings.TrimSuffix(FileName(7), nameSuffix)+tmpSuffix)} {
		if _, err := os.Lstat(n); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", n, err)
		}
	}
	got, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("hard-linked backup is %d bytes, want its %d untouched", len(got), len(want))
	}
}
