package checkpoint

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testutil.Missing(t, "no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestFailuresCloseTheirFiles: every way a checkpoint fails on the OS
// filesystem closes the files it opened: opening a file too short for the
// header, with a bad header or a name that disagrees with it, verifying a
// damaged one, listing a directory holding an unreadable name, a Writer
// failing at each of its write, fsync, close and rename, and a removal
// that fails mid-way. Each is done 20 times: a descriptor kept per
// failure shows as 20 more.
func TestFailuresCloseTheirFiles(t *testing.T) {
	dir := t.TempDir()
	good := writeCheckpoint(t, vfs.Default, dir, 7, sampleRecords(3))
	valid, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := write(FileName(1), valid[:HeaderSize-1])
	badHeader := write(FileName(2), append([]byte("XXXXXXXX"), valid[8:]...))
	misnamed := write(FileName(3), valid) // header says LSN 7
	damaged := write(FileName(4), append(append([]byte{}, valid[:len(valid)-1]...), valid[len(valid)-1]^1))
	if err := os.Mkdir(filepath.Join(dir, FileName(5)), 0o700); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, bufferSize+1)
	faults := []errorfs.OpKind{errorfs.OpWrite, errorfs.OpSync, errorfs.OpClose, errorfs.OpRename, errorfs.OpSyncDir, errorfs.OpTruncate}

	// An *os.File dropped unclosed is closed by its finalizer once a GC
	// finds it, which would hide the leak: no GC during the loop.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := openFDs(t)
	for range 20 {
		for _, p := range []string{short, badHeader, misnamed} {
			if r, err := Open(vfs.Default, p); err == nil {
				r.Close()
				t.Fatalf("%s opened", p)
			}
		}
		if Verify(vfs.Default, damaged) == nil {
			t.Fatal("the damaged checkpoint verified")
		}
		if _, err := List(vfs.Default, dir); err != nil {
			t.Fatal(err)
		}
		for _, k := range faults {
			fs := errorfs.Wrap(vfs.Default, errorfs.OnKind(k, errorfs.ErrInjected))
			w, err := Create(fs, dir, 100)
			if err != nil {
				t.Fatal(err)
			}
			// More than a buffer: the write fails before Commit.
			if err := w.Append(1, big); err == nil {
				// The error is what the loop counts descriptors after,
				// not what it checks: either way the files must close.
				_, _ = w.Commit()
			}
			if k == errorfs.OpTruncate {
				// Commit succeeded; removing it gradually fails at
				// its first step (a file over one step), and the file
				// is then unlinked at once
				// (TestRemoveGraduallyShrinkFails).
				path := filepath.Join(dir, FileName(100))
				if err := vfs.RemoveGradually(fs, path, path+".del", 4096, 0); err != nil {
					t.Fatalf("RemoveGradually with every truncate failing: %v", err)
				}
				for _, n := range []string{path, path + ".del"} {
					if _, err := os.Lstat(n); !os.IsNotExist(err) {
						t.Fatalf("%s left after a failed step (%v)", n, err)
					}
				}
			}
		}
	}
	if after := openFDs(t); after > before+5 {
		t.Fatalf("%d descriptors open after 20 rounds of failures, %d before", after, before)
	}
}
