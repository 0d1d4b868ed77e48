package checkpoint

import (
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestRemoveTempPassesOverStuck: a name that looks like a leftover
// temporary checkpoint but cannot be removed (a directory holding a file)
// is reported, by name, and left with its file, and the leftovers after it
// are still removed, on MemFS and the OS filesystem. Before, the first
// failure stopped the loop: the leftover after it stayed (and the bus,
// which ignores the error, never said so).
func TestRemoveTempPassesOverStuck(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string
	}{
		{"memory", vfs.NewMem(), "/ck"},
		{"os", vfs.Default, t.TempDir()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := tc.fs
			if err := fs.MkdirAll(tc.dir); err != nil {
				t.Fatal(err)
			}
			stuck := fs.Join(tc.dir, tempName(1)) // sorts first
			if err := fs.MkdirAll(stuck); err != nil {
				t.Fatal(err)
			}
			kept := fs.Join(stuck, "notes")
			leftover := fs.Join(tc.dir, tempName(2))
			for _, p := range []string{kept, leftover} {
				f, err := fs.Create(p)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			}
			err := RemoveTemp(fs, tc.dir)
			if err == nil || !strings.Contains(err.Error(), stuck) {
				t.Errorf("RemoveTemp: %v, want an error naming %s", err, stuck)
			}
			if fs.Exists(leftover) {
				t.Errorf("the leftover %s after the stuck name was not removed", leftover)
			}
			if !fs.Exists(kept) {
				t.Errorf("the directory's file %s is gone", kept)
			}
		})
	}
}
