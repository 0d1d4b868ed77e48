//go:build unix

package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestListFilesSplitsNonFiles: ListFiles, the one listing recovery,
// Replay, `mmsb check` and the validators use, puts a name under a
// checkpoint's pattern that holds no file (a directory, a named pipe; a
// directory in MemFS) apart from the checkpoints, and keeps among the
// checkpoints everything that may stand for one: a whole file, a damaged
// one, an unreadable one and a dangling symbolic link (a checkpoint on a
// disk not mounted). PassedOver names the path and says what recovery
// does with it.
func TestListFilesSplitsNonFiles(t *testing.T) {
	dir := t.TempDir()
	writeCheckpoint(t, vfs.Default, dir, 7, sampleRecords(2))
	damaged := writeCheckpoint(t, vfs.Default, dir, 8, sampleRecords(2))
	if err := os.WriteFile(damaged, []byte("not a checkpoint"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, FileName(9))); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, FileName(11)), 0o600); err != nil {
		testutil.Missing(t, "mkfifo: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, FileName(13), "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	ckpts, notFiles, err := ListFiles(vfs.Default, dir)
	if err != nil {
		t.Fatal(err)
	}
	lsns := func(infos []Info) []base.LSN {
		var out []base.LSN
		for _, c := range infos {
			out = append(out, c.LSN)
		}
		return out
	}
	if got := lsns(ckpts); len(got) != 3 || got[0] != 9 || got[1] != 8 || got[2] != 7 {
		t.Errorf("checkpoints: LSNs %v, want [9 8 7] (the dangling link and the damaged file are checkpoints that do not load)", got)
	}
	if got := lsns(notFiles); len(got) != 2 || got[0] != 13 || got[1] != 11 {
		t.Fatalf("names that hold no file: LSNs %v, want [13 11]", got)
	}
	for _, c := range notFiles {
		if !c.HoldsNoFile() {
			t.Errorf("%s: HoldsNoFile false for a name ListFiles passed over", c.Path)
		}
		msg := c.PassedOver()
		if !strings.Contains(msg, c.Path) || !strings.Contains(msg, "holds no checkpoint file") || !strings.Contains(msg, "passed over") {
			t.Errorf("PassedOver of %s = %q: want it to name the path and say it is passed over", c.Path, msg)
		}
	}
	for _, c := range ckpts {
		if c.HoldsNoFile() {
			t.Errorf("%s (Err %v): HoldsNoFile true for what may be a checkpoint", c.Path, c.Err)
		}
	}

	// MemFS: a directory there fails its open with EISDIR.
	mem := vfs.NewMem()
	writeCheckpoint(t, mem, "/ck", 5, sampleRecords(1))
	if err := mem.MkdirAll(mem.Join("/ck", FileName(6))); err != nil {
		t.Fatal(err)
	}
	ckpts, notFiles, err = ListFiles(mem, "/ck")
	if err != nil || len(ckpts) != 1 || ckpts[0].LSN != 5 || len(notFiles) != 1 || notFiles[0].LSN != 6 {
		t.Fatalf("MemFS: checkpoints %v, names holding no file %v, %v; want LSN 5 and LSN 6", lsns(ckpts), lsns(notFiles), err)
	}

	// A directory that does not exist holds no checkpoints.
	if ckpts, notFiles, err := ListFiles(vfs.Default, filepath.Join(dir, "absent")); err != nil || ckpts != nil || notFiles != nil {
		t.Fatalf("missing directory: %v %v %v", ckpts, notFiles, err)
	}
}
