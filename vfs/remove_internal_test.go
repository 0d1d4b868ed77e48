package vfs

import (
	"path/filepath"
	"testing"
	"time"
)

// RemoveGradually pauses between steps for a file on storage only: a file
// in memory is shrunk in the same steps without sleeping. The OS file is
// the control that the pauses are counted at all.
func TestRemoveGraduallyPausesOnStorageOnly(t *testing.T) {
	var pauses int
	sleep = func(time.Duration) { pauses++ }
	t.Cleanup(func() { sleep = time.Sleep })
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		fs   FS
		dir  string
		want int
	}{
		{"memory", NewMem(), "/d", 0},
		{"os", Default, dir, 5},
	} {
		pauses = 0
		if err := tc.fs.MkdirAll(tc.dir); err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(tc.dir, "f")
		f, err := tc.fs.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(make([]byte, 5*100+3)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := RemoveGradually(tc.fs, name, name+".del", 100, time.Hour); err != nil {
			t.Fatal(err)
		}
		if tc.fs.Exists(name) || tc.fs.Exists(name+".del") {
			t.Fatalf("%s: file not removed", tc.name)
		}
		if pauses != tc.want {
			t.Fatalf("%s: %d pauses, want %d", tc.name, pauses, tc.want)
		}
	}
}
