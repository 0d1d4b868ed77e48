package vfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestOpenRegularThroughWrappers: OpenRegular refuses a directory under a
// file's name on the operating system's filesystem however it is reached:
// directly, through errorfs (nested too), and through a Mount on either
// side. Before, only vfs.Default itself was checked, so the wrapped ones
// opened the directory (and would have waited on a named pipe).
func TestOpenRegularThroughWrappers(t *testing.T) {
	dir := t.TempDir()
	seg := filepath.Join(dir, "00000000000000000001.log")
	ck(t, os.Mkdir(seg, 0o700))
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		path string
	}{
		{"default", vfs.Default, seg},
		{"errorfs", errorfs.Wrap(vfs.Default, errorfs.Never), seg},
		{"errorfs of errorfs", errorfs.Wrap(errorfs.Wrap(vfs.Default, nil), errorfs.Never), seg},
		{"mount base", vfs.Mount(vfs.Default, "/elsewhere", vfs.NewMem(), "/"), seg},
		{"mount sub", vfs.Mount(vfs.NewMem(), "/db", vfs.Default, dir), "/db/00000000000000000001.log"},
		{"errorfs of a mount", errorfs.Wrap(vfs.Mount(vfs.NewMem(), "/db", vfs.Default, dir), nil), "/db/00000000000000000001.log"},
	} {
		f, err := vfs.OpenRegular(tc.fs, tc.path)
		if f != nil {
			_ = f.Close() // the failure is reported below
		}
		if !errors.Is(err, vfs.ErrNotRegular) {
			t.Errorf("%s: OpenRegular of a directory = %v, want ErrNotRegular", tc.name, err)
		}
	}
	// A memory filesystem holds only regular files: opened as before.
	mem := vfs.NewMem()
	writeFile(t, mem, "/f", "x")
	f, err := vfs.OpenRegular(errorfs.Wrap(mem, nil), "/f")
	ck(t, err)
	ck(t, f.Close())
}
