package tlog

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestOpenPassesOverLeftoverDirectory: a directory holding files under a
// removed segment's name (`*.log.del`: an operator's, a restored backup
// tree) is no leftover of the log's: the log only ever renames segment
// files to that name. Open passes over it, leaving it and its files as
// they are, and recovers the log. Before, its failed removal failed Open
// with "tlog: remove 00…01.log.del: directory not empty", naming neither
// the directory nor what to do. On MemFS and on the OS filesystem.
func TestOpenPassesOverLeftoverDirectory(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string
	}{
		{"memory", vfs.NewMem(), "/wal"},
		{"os", vfs.Default, filepath.Join(t.TempDir(), "wal")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := tc.fs
			l := openLog(t, Options{FS: fs, Dir: tc.dir})
			recs := genRecords(1, 5, 64)
			appendAll(t, l, recs)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			stuck := fs.Join(tc.dir, SegmentName(1000)+delSuffix)
			kept := fs.Join(stuck, "notes")
			if err := fs.MkdirAll(stuck); err != nil {
				t.Fatal(err)
			}
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
			l2, rep, err := Open(Options{FS: fs, Dir: tc.dir}, 0, nil)
			if err != nil {
				t.Fatalf("open beside a directory named %s: %v", stuck, err)
			}
			defer l2.Close()
			if rep.LastLSN != recs[len(recs)-1].First+base.LSN(recs[len(recs)-1].Count)-1 {
				t.Errorf("recovered to LSN %d", rep.LastLSN)
			}
			if !fs.Exists(kept) {
				t.Errorf("%s is gone", kept)
			}
		})
	}
}

// TestOpenLeftoverRemoveFailsNamesPath: a leftover segment file that
// cannot be removed (an I/O error) fails Open with an error that names
// its full path and what to do, wrapping the cause. Before, the message
// named the base name only: "tlog: remove 00…01.log.del: injected".
func TestOpenLeftoverRemoveFailsNamesPath(t *testing.T) {
	mem := vfs.NewMem()
	l := openLog(t, Options{FS: mem, Dir: "/wal"})
	appendAll(t, l, genRecords(1, 3, 64))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	left := mem.Join("/wal", SegmentName(1000)+delSuffix)
	f, err := mem.Create(left)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("half removed")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fs := errorfs.Wrap(mem, errorfs.OnPath(delSuffix, errorfs.OnKind(errorfs.OpRemove, errorfs.ErrInjected)))
	l2, _, err := Open(Options{FS: fs, Dir: "/wal"}, 0, nil)
	if err == nil {
		_ = l2.Close()
		t.Fatalf("open with a leftover that cannot be removed succeeded")
	}
	if !errors.Is(err, errorfs.ErrInjected) || !strings.Contains(err.Error(), left) || !strings.Contains(err.Error(), "remove it by hand") {
		t.Fatalf("open: %v, want the injected error naming %s and what to do", err, left)
	}
}
