package vfs_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestRemoveGraduallyKeepsHardLinkedCopy: a file with another hard link
// (a checkpoint or log segment hard-linked into a backup, as `cp -al` and
// rsync's --link-dest make them) shares its blocks with that copy, so
// shrinking it frees nothing and cuts the copy: the name is unlinked at
// once and the other name keeps every byte, through Default, an errorfs
// wrapper and a Mount. Before, the steps truncated the shared inode and the
// backup kept 100 of its 1000 bytes. The file with one link is the
// control that the steps are still taken (counted through errorfs).
func TestRemoveGraduallyKeepsHardLinkedCopy(t *testing.T) {
	dir := t.TempDir()
	var truncs atomic.Int64
	counting := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpTruncate {
			truncs.Add(1)
		}
		return nil
	})
	want := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string // the directory on fs
	}{
		{"default", vfs.Default, dir},
		{"errorfs", errorfs.Wrap(vfs.Default, counting), dir},
		{"mount", vfs.Mount(vfs.NewMem(), "/data", vfs.Default, dir), "/data"},
	} {
		seg := filepath.Join(dir, "seg-"+tc.name)
		backup := filepath.Join(dir, "backup-"+tc.name)
		if err := os.WriteFile(seg, []byte(want), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(seg, backup); err != nil {
			testutil.Missing(t, "hard link: %v", err)
		}
		truncs.Store(0)
		name := tc.fs.Join(tc.dir, "seg-"+tc.name)
		if err := vfs.RemoveGradually(tc.fs, name, name+".del", 100, 0); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got, err := os.ReadFile(backup); err != nil || string(got) != want {
			t.Errorf("%s: the hard-linked copy is %d bytes (%v), want its 1000 bytes untouched", tc.name, len(got), err)
		}
		for _, n := range []string{seg, seg + ".del"} {
			if _, err := os.Lstat(n); !os.IsNotExist(err) {
				t.Errorf("%s: %s is still there (%v)", tc.name, n, err)
			}
		}
		if tc.name != "errorfs" {
			continue
		}
		if n := truncs.Load(); n != 0 {
			t.Errorf("%s: %d shrink steps on a hard-linked file, want 0", tc.name, n)
		}
		// Control: a file with one link is still shrunk in steps.
		if err := os.WriteFile(seg, []byte(want), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := vfs.RemoveGradually(tc.fs, name, name+".del", 100, 0); err != nil {
			t.Fatalf("%s single link: %v", tc.name, err)
		}
		if n := truncs.Load(); n == 0 {
			t.Errorf("%s: no shrink steps on a file with one link: the steps are not counted", tc.name)
		}
	}
}
