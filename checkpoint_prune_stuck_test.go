package mmsb

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
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
