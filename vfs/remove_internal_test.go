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

// TestRemoveGraduallyUntilHurry: once hurry reports true the rest of the
// file is unlinked at once, with no further steps or pauses (a bus being
// closed waited about 0.6 s per GiB of old checkpoint for pacing that
// protected no commit). Here hurry turns true after two pauses: without
// the check the removal took all five.
func TestRemoveGraduallyUntilHurry(t *testing.T) {
	var pauses int
	sleep = func(time.Duration) { pauses++ }
	t.Cleanup(func() { sleep = time.Sleep })
	name := filepath.Join(t.TempDir(), "f")
	f, err := Default.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 5*100+3)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := RemoveGraduallyUntil(Default, name, name+".del", 100, time.Hour, func() bool { return pauses >= 2 }); err != nil {
		t.Fatal(err)
	}
	if Default.Exists(name) || Default.Exists(name+".del") {
		t.Fatal("file not removed")
	}
	if pauses != 2 {
		t.Fatalf("%d pauses, want 2 (none once hurry reports true)", pauses)
	}
}
