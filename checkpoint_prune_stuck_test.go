package mmsb

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestPruneSkipsUndeletableName: a directory holding a file under a
// checkpoint's name (an operator's `mkdir`, a restored backup tree) cannot
// be removed. The first checkpoint after it returns an error naming it,
// the next ones none, and retention goes on around it: the older
// checkpoints are removed and the log trimmed, while the directory and
// its file are left as they are. Before, its failed removal stopped the
// prune: every later checkpoint failed with the same error, no old
// checkpoint or log segment was removed again, and with automatic
// checkpoints the log grew until commits were refused
// (ErrCheckpointFailing). On MemFS and on the OS filesystem.
func TestPruneSkipsUndeletableName(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string
	}{
		{"memory", vfs.NewMem(), "/db"},
		{"os", vfs.Default, filepath.Join(t.TempDir(), "db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := tc.fs
			e := openT(t, tc.dir, &Options{FS: fs, SegmentBytes: 4 << 10, CheckpointBytes: -1})
			p := &pruneBus{t: t, e: e, ids: mustCreate(t, e, 2, 1024)}
			p.round()
			c1 := p.ckpt()
			p.round()
			bad := fs.Join(tc.dir, "checkpoints", checkpoint.FileName(p.e.LastLSN()))
			if err := fs.MkdirAll(bad); err != nil {
				t.Fatal(err)
			}
			kept := fs.Join(bad, "notes")
			f, err := fs.Create(kept)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("the operator's")); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			p.round()
			c2, err := p.e.Checkpoint(ctx)
			if err == nil || !strings.Contains(err.Error(), bad) {
				t.Fatalf("first checkpoint beside the directory: %v, want an error naming %s", err, bad)
			}
			if !fs.Exists(c2.Path) {
				t.Fatalf("the checkpoint %s is gone", c2.Path)
			}
			// The next ones prune around it, reporting it no more.
			p.round()
			c3 := p.ckpt()
			p.round()
			c4 := p.ckpt()
			if c4.SegmentsRemoved == 0 {
				t.Errorf("no log segment removed: the log is not trimmed")
			}
			for _, c := range []CheckpointInfo{c1, c2} {
				if fs.Exists(c.Path) {
					t.Errorf("%s, older than the two retained, is still there", c.Path)
				}
			}
			for _, c := range []CheckpointInfo{c3, c4} {
				if !fs.Exists(c.Path) {
					t.Errorf("%s, retained, is gone", c.Path)
				}
			}
			if f, err := fs.Open(kept); err != nil {
				t.Errorf("the directory's file: %v", err)
			} else {
				got := make([]byte, 64)
				n, _ := f.ReadAt(got, 0)
				_ = f.Close()
				if string(got[:n]) != "the operator's" {
					t.Errorf("the directory's file holds %q", got[:n])
				}
			}
		})
	}
}

// TestPruneReportsStuckNameBesideFailure: a prune that meets a stuck name
// for the first time and then fails (the directory fsync after removing an
// old checkpoint) reports both. The name is remembered as reported once
// the walk is done, so the next prune passes over it in silence: before,
// the fsync's error was returned alone, and the name was never reported.
func TestPruneReportsStuckNameBesideFailure(t *testing.T) {
	// The checkpoint's own directory fsync (after its rename) passes; the
	// one after the oldest checkpoint's removal fails.
	tog := errorfs.NewToggle(errorfs.After(1, errorfs.OnPath("checkpoints", errorfs.OnKind(errorfs.OpSyncDir, errorfs.ErrInjected))))
	fs := errorfs.Wrap(vfs.NewMem(), tog)
	e := openT(t, "/db", &Options{FS: fs, SegmentBytes: 4 << 10, CheckpointBytes: -1})
	p := &pruneBus{t: t, e: e, ids: mustCreate(t, e, 2, 1024)}
	p.round()
	p.ckpt()
	p.round()
	p.ckpt()
	// Between the two retained checkpoints: passed over, never counted.
	bad := fs.Join("/db", "checkpoints", checkpoint.FileName(p.e.LastLSN()-1))
	if err := fs.MkdirAll(fs.Join(bad, "sub")); err != nil {
		t.Fatal(err)
	}
	p.round()
	tog.On()
	_, err := p.e.Checkpoint(ctx)
	tog.Off()
	if err == nil || !strings.Contains(err.Error(), "not trimmed") || !strings.Contains(err.Error(), bad) {
		t.Fatalf("checkpoint with a failing directory fsync beside a stuck name: %v, want an error naming both", err)
	}
	p.round()
	p.ckpt() // fails the test on an error: the name was reported
	if !fs.Exists(bad) {
		t.Errorf("%s is gone", bad)
	}
}

// TestPruneNameGoneMidway: an old checkpoint removed by hand between the
// prune's listing and its removal (an operator freeing disk space while
// the bus runs) is what the removal was for: the checkpoint succeeds and
// the log is trimmed. Before, the removal's "no such file" failed the
// checkpoint, counted in CheckpointFailures, and left the log untrimmed.
func TestPruneNameGoneMidway(t *testing.T) {
	mem := vfs.NewMem()
	var mu sync.Mutex
	var gone string // the checkpoint to remove by hand, once; guarded by mu
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		mu.Lock()
		defer mu.Unlock()
		if op.Kind == errorfs.OpRename && gone != "" && op.Path == gone {
			if err := mem.Remove(gone); err != nil {
				t.Errorf("remove %s by hand: %v", gone, err)
			}
			gone = ""
		}
		return nil
	}))
	e := openT(t, "/db", &Options{FS: fs, SegmentBytes: 4 << 10, CheckpointBytes: -1})
	p := &pruneBus{t: t, e: e, ids: mustCreate(t, e, 2, 1024)}
	p.round()
	c1 := p.ckpt()
	p.round()
	p.ckpt()
	p.round()
	mu.Lock()
	gone = c1.Path
	mu.Unlock()
	c3, err := p.e.Checkpoint(ctx)
	if err != nil {
		t.Fatalf("checkpoint with an old one removed by hand midway: %v", err)
	}
	mu.Lock()
	left := gone
	mu.Unlock()
	if left != "" {
		t.Fatalf("%s was not removed by the prune", c1.Path)
	}
	if c3.SegmentsRemoved == 0 {
		t.Errorf("no log segment removed: the log is not trimmed")
	}
	if n := p.e.Stats().CheckpointFailures; n != 0 {
		t.Errorf("%d checkpoint failures counted, want 0", n)
	}
}
