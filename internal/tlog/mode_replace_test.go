package tlog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestWriteModeUnlinksTempLink: a symbolic link under the log-mode's
// temporary name (checkpoints/log-mode.tmp) is removed, not followed.
// Before, WriteMode created the temporary through it (Create follows a
// link), truncating the link's target and writing the mode into it.
// It writes through vfs.ReplaceFile, as CreateEmptySegment and
// vfs.Unshare do.
func TestWriteModeUnlinksTempLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, ModeFileName+".tmp")); err != nil {
		testutil.Missing(t, "symlink: %v", err)
	}
	if err := WriteMode(vfs.Default, dir, ModeLog); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(victim); err != nil || string(got) != "someone else's" {
		t.Fatalf("the link's target holds %q, %v: written through the link", got, err)
	}
	if m, err := ReadMode(vfs.Default, dir); err != nil || m != ModeLog {
		t.Fatalf("mode %v, %v; want %v", m, err, ModeLog)
	}
}

// TestWriteModeFailureLeavesNoTemp: a WriteMode whose rename fails
// returns an error naming the file and the step, keeps the old mode, and
// leaves no temporary behind (before, the temporary stayed until the
// next write).
func TestWriteModeFailureLeavesNoTemp(t *testing.T) {
	boom := errors.New("injected")
	mem := vfs.NewMem()
	if err := vfs.MkdirAllAndSync(mem, "/ck"); err != nil {
		t.Fatal(err)
	}
	if err := WriteMode(mem, "/ck", ModeNoLog); err != nil {
		t.Fatal(err)
	}
	fs := errorfs.Wrap(mem, errorfs.OnKind(errorfs.OpRename, boom))
	err := WriteMode(fs, "/ck", ModeLog)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "/ck/"+ModeFileName) || !strings.Contains(err.Error(), "rename") {
		t.Fatalf("WriteMode with a failing rename: %v; want the rename's error naming the file", err)
	}
	if m, err := ReadMode(mem, "/ck"); err != nil || m != ModeNoLog {
		t.Fatalf("mode %v, %v after the failure; want the old %v", m, err, ModeNoLog)
	}
	if mem.Exists("/ck/" + ModeFileName + ".tmp") {
		t.Fatal("the temporary file was left behind")
	}
}

// TestWriteModeBesideDirectoryAtTemp: a directory holding files under the
// log-mode's temporary name (checkpoints/log-mode.tmp: an operator's, a
// restored backup tree) is left as it is: WriteMode with the mode the
// file already says succeeds (the bus calls it at every Open), and a
// change of mode is written through the second temporary name
// (log-mode.alt.tmp), which the next WriteMode removes should a crash
// leave it. Before, both failed, "directory not empty" and "is a
// directory", and so did Open.
func TestWriteModeBesideDirectoryAtTemp(t *testing.T) {
	mem := vfs.NewMem()
	if err := vfs.MkdirAllAndSync(mem, "/ck/"+ModeFileName+".tmp/inside"); err != nil {
		t.Fatal(err)
	}
	if err := WriteMode(mem, "/ck", ModeLog); err != nil {
		t.Fatalf("first WriteMode beside a directory at %s.tmp: %v", ModeFileName, err)
	}
	if err := WriteMode(mem, "/ck", ModeLog); err != nil {
		t.Fatalf("WriteMode of the same mode beside a directory at %s.tmp: %v", ModeFileName, err)
	}
	if err := WriteMode(mem, "/ck", ModeNoLog); err != nil {
		t.Fatalf("WriteMode of a new mode beside a directory at %s.tmp: %v", ModeFileName, err)
	}
	if m, err := ReadMode(mem, "/ck"); err != nil || m != ModeNoLog {
		t.Fatalf("mode %v, %v; want %v", m, err, ModeNoLog)
	}
	// What a crash left under the second name goes at the next call.
	alt := "/ck/" + ModeFileName + modeAltTempSuffix
	f, err := mem.Create(alt)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := WriteMode(mem, "/ck", ModeNoLog); err != nil {
		t.Fatal(err)
	}
	if mem.Exists(alt) {
		t.Errorf("%s left behind", alt)
	}
	if !mem.Exists("/ck/" + ModeFileName + ".tmp/inside") {
		t.Errorf("the directory at %s.tmp was emptied", ModeFileName)
	}
}
