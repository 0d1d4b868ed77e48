//go:build unix

package mmsb

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestPruneLooksAgainBeforeRemoving: retention judges a name that held no
// checkpoint file when it listed the directory (a dangling symbolic link)
// as no fallback, to be removed; a checkpoint file put under that name
// since the listing (the link's disk mounted, the file restored), while
// the prune removed a name before it, is judged again before removal and
// kept. Before, the listing's verdict was acted on: the restored
// checkpoint, the newest retained one, was removed.
func TestPruneLooksAgainBeforeRemoving(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	ckDir := filepath.Join(dir, "checkpoints")
	var swap atomic.Pointer[func()]
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if f := swap.Load(); f != nil && op.Kind == errorfs.OpRemove {
			(*f)()
		}
		return nil
	}))
	e := openT(t, dir, &Options{FS: fs, CheckpointBytes: -1})
	ids := mustCreate(t, e, 1, 64)
	commit := func() {
		t.Helper()
		if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, "x")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	commit()
	restored, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commit()
	commit()
	// The checkpoint moves away and a link to where it went stands in
	// its place (the disk not mounted); an empty directory sits under
	// the next LSN's name: the prune removes it first, and the
	// checkpoint comes back meanwhile.
	aside := filepath.Join(t.TempDir(), "restored.ckpt")
	if err := os.Rename(restored.Path, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(t.TempDir(), "unmounted", "restored.ckpt"), restored.Path); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(ckDir, checkpoint.FileName(restored.LSN+1))
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	var swapped atomic.Bool
	restore := func() {
		if swapped.Swap(true) {
			return
		}
		if err := os.Remove(restored.Path); err != nil {
			t.Error(err)
		}
		if err := os.Rename(aside, restored.Path); err != nil {
			t.Error(err)
		}
	}
	swap.Store(&restore)
	commit()
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	swap.Store(nil)
	if !swapped.Load() {
		t.Fatal("the prune removed nothing before the link: the swap was not made")
	}
	if _, err := os.Lstat(empty); !os.IsNotExist(err) {
		t.Errorf("%s: %v; want the empty directory removed", empty, err)
	}
	if err := checkpoint.Verify(vfs.Default, restored.Path); err != nil {
		t.Fatalf("the checkpoint restored under %s during the prune: %v", restored.Path, err)
	}
}

// TestPruneLooksAgainJudgesAsListing: the second look at a name that held
// no file when the prune listed the directory judges it as a fresh listing
// would: a checkpoint file put there meanwhile that cannot be opened now
// (an I/O error), past the retained checkpoints, is removed as old, as
// the next prune's listing would remove it. Before, the second look kept
// it whatever its place (a passing failure is only kept while it is newer
// than the retained ones).
func TestPruneLooksAgainJudgesAsListing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	ckDir := filepath.Join(dir, "checkpoints")
	var swap atomic.Pointer[func()]
	var failOpen atomic.Pointer[string]
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if f := swap.Load(); f != nil && op.Kind == errorfs.OpRemove {
			(*f)()
		}
		if p := failOpen.Load(); p != nil && op.Kind == errorfs.OpOpen && op.Path == *p {
			return errorfs.ErrInjected
		}
		return nil
	}))
	e := openT(t, dir, &Options{FS: fs, CheckpointBytes: -1})
	ids := mustCreate(t, e, 1, 64)
	commit := func() {
		t.Helper()
		if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, "x")}); err != nil {
			t.Fatal(err)
		}
	}
	old, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commit()
	commit()
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	commit()
	// The older checkpoint moves away, a dangling link in its place; an
	// empty directory between the two retained checkpoints' LSNs is
	// removed first, and meanwhile the older one comes back, unreadable.
	aside := filepath.Join(t.TempDir(), "old.ckpt")
	if err := os.Rename(old.Path, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(t.TempDir(), "unmounted", "old.ckpt"), old.Path); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(ckDir, checkpoint.FileName(old.LSN+1))
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	var swapped atomic.Bool
	restore := func() {
		if swapped.Swap(true) {
			return
		}
		if err := os.Remove(old.Path); err != nil {
			t.Error(err)
		}
		if err := os.Rename(aside, old.Path); err != nil {
			t.Error(err)
		}
		failOpen.Store(&old.Path)
	}
	swap.Store(&restore)
	commit()
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	swap.Store(nil)
	failOpen.Store(nil)
	if !swapped.Load() {
		t.Fatal("the prune removed nothing before the link: the swap was not made")
	}
	if _, err := os.Lstat(old.Path); !os.IsNotExist(err) {
		t.Errorf("%s: %v; want it removed as old: it is past the %d retained checkpoints", old.Path, err, keepCheckpoints)
	}
	ckpts, err := checkpoint.List(vfs.Default, ckDir)
	if err != nil || len(ckpts) != keepCheckpoints {
		t.Errorf("%d checkpoints left in %s (%v), want the %d retained", len(ckpts), ckDir, err, keepCheckpoints)
	}
}
