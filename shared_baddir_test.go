package mmsb

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestSharedBadSharedDirLeavesNothing: an Open refused for its SharedDir
// (missing, or a file) makes no bus directory and leaves an empty one
// empty. The check ran after Open made and locked the directory, so a
// new directory holding only LOCK was left, which bench then refused as
// "not empty" and check took for a bus that held nothing.
func TestSharedBadSharedDirLeavesNothing(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, shm string }{
		{"missing", filepath.Join(base, "no-such-dir")},
		{"file", file},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(base, "bus-"+tc.name)
			_, err := Open(dir, &Options{Shared: true, SharedDir: tc.shm})
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("Open with SharedDir %s: %v, want ErrInvalidOption", tc.shm, err)
			}
			if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the refused Open left %s behind (%v)", dir, err)
			}
			empty := filepath.Join(base, "empty-"+tc.name)
			if err := os.Mkdir(empty, 0o700); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(empty, &Options{Shared: true, SharedDir: tc.shm}); !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("Open with SharedDir %s: %v, want ErrInvalidOption", tc.shm, err)
			}
			if ents, _ := os.ReadDir(empty); len(ents) != 0 {
				t.Errorf("the refused Open left %d entries in an empty directory (%s first)", len(ents), ents[0].Name())
			}
		})
	}
}
