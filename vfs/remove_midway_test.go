package vfs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestRemoveGraduallyLinkMadeMidway: a hard link made after RemoveGradually
// checked the name for other links (a backup running beside the bus, as
// `cp -al` makes one) shares the file about to be shrunk. The open file's
// own link count is checked before each step: a link made between the
// check by name and the first step leaves the backup all 1000 bytes, one
// made after the first step the 900 the file held then, and the steps
// stop; through an errorfs wrapper too, whose files say what they wrap.
// Before, only the name was checked, before the rename: the backup was cut
// to 100 bytes either way.
func TestRemoveGraduallyLinkMadeMidway(t *testing.T) {
	noFaults := errorfs.InjectorFunc(func(errorfs.Op) error { return nil })
	want := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name     string
		fs       vfs.FS
		midway   bool // link after the first step, not before it
		wantSize int
	}{
		{"before-steps", vfs.Default, false, 1000},
		{"after-a-step", vfs.Default, true, 900},
		{"errorfs", errorfs.Wrap(vfs.Default, noFaults), false, 1000},
		{"errorfs-after-a-step", errorfs.Wrap(vfs.Default, noFaults), true, 900},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			seg := filepath.Join(dir, "seg")
			backup := filepath.Join(dir, "backup")
			if err := os.WriteFile(seg, []byte(want), 0o600); err != nil {
				t.Fatal(err)
			}
			var linkErr error
			link := func(name string) {
				if _, err := os.Lstat(backup); err == nil || linkErr != nil {
					return
				}
				linkErr = os.Link(name, backup)
			}
			none := func(string) {}
			restore := vfs.SetRemoveSeams(link, none)
			if tc.midway {
				restore()
				restore = vfs.SetRemoveSeams(none, link)
			}
			err := vfs.RemoveGradually(tc.fs, seg, seg+".del", 100, 0)
			restore()
			if linkErr != nil {
				testutil.Missing(t, "hard link: %v", linkErr)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(backup)
			if err != nil || len(got) != tc.wantSize {
				t.Errorf("the hard link made midway holds %d bytes (%v), want %d", len(got), err, tc.wantSize)
			}
			for _, n := range []string{seg, seg + ".del"} {
				if _, err := os.Lstat(n); !os.IsNotExist(err) {
					t.Errorf("%s is still there (%v)", n, err)
				}
			}
		})
	}
}

// TestRemoveGraduallyNameSwapped: a symbolic link put under the name after
// RemoveGradually checked it (an operator's, or a restore racing the
// prune) is unlinked, and the file it points to is left whole: the opened
// file is compared with what the hidden name holds before any step.
// Before, the open followed the link and the steps cut the target to one
// step (100 of its 1000 bytes).
func TestRemoveGraduallyNameSwapped(t *testing.T) {
	noFaults := errorfs.InjectorFunc(func(errorfs.Op) error { return nil })
	want := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name string
		fs   vfs.FS
	}{
		{"default", vfs.Default},
		{"errorfs", errorfs.Wrap(vfs.Default, noFaults)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			seg := filepath.Join(dir, "seg")
			target := filepath.Join(dir, "archive")
			for _, p := range []string{seg, target} {
				if err := os.WriteFile(p, []byte(want), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var swapErr error
			restore := vfs.SetRemoveSeams(func(name string) {
				if swapErr = os.Remove(name); swapErr == nil {
					swapErr = os.Symlink(target, name)
				}
			}, func(string) {})
			err := vfs.RemoveGradually(tc.fs, seg, seg+".del", 100, 0)
			restore()
			if swapErr != nil {
				testutil.Missing(t, "symlink: %v", swapErr)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(target); err != nil || string(got) != want {
				t.Errorf("the link's target is %d bytes (%v), want its 1000 untouched", len(got), err)
			}
			for _, n := range []string{seg, seg + ".del"} {
				if _, err := os.Lstat(n); !os.IsNotExist(err) {
					t.Errorf("%s is still there (%v)", n, err)
				}
			}
		})
	}
}

// TestRemoveGraduallyShrinkFails: a shrink step that fails (an I/O error,
// a quota) ends the pacing, and the file is unlinked at once: nothing is
// left under either name, on every implementation. Before, the error was
// returned with the file left, part shrunk, under the hidden name, which
// the bus's later prunes do not list (a checkpoint's rest stayed on disk
// until the next Open). A failed unlink after it is still returned.
func TestRemoveGraduallyShrinkFails(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			base, dir := im.new(t)
			var truncs int
			fs := errorfs.Wrap(base, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind == errorfs.OpTruncate {
					truncs++
					return errorfs.ErrInjected
				}
				return nil
			}))
			name := fs.Join(dir, "f")
			writeFile(t, fs, name, strings.Repeat("z", 350))
			if err := vfs.RemoveGradually(fs, name, name+".del", 100, 0); err != nil {
				t.Fatalf("RemoveGradually with the steps failing: %v", err)
			}
			if truncs == 0 {
				t.Fatal("no step was tried")
			}
			if base.Exists(name) || base.Exists(name+".del") {
				t.Fatal("the file is left after a failed step")
			}
			// The unlink failing too is an error naming both.
			both := errorfs.Wrap(base, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind == errorfs.OpTruncate || (op.Kind == errorfs.OpRemove && strings.HasSuffix(op.Path, ".del")) {
					return errorfs.ErrInjected
				}
				return nil
			}))
			writeFile(t, base, name, strings.Repeat("z", 350))
			err := vfs.RemoveGradually(both, name, name+".del", 100, 0)
			if err == nil || !strings.Contains(err.Error(), "remove:") {
				t.Fatalf("steps and unlink failing: %v, want an error naming both", err)
			}
		})
	}
}
