package mmsb

import (
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestNewDirectoriesSurviveCrash: what the bus acknowledged survives a power
// failure right after it, when the bus created its directories itself or
// found them left unsynced by a process that crashed. Open once created
// the data, wal and checkpoints directories without syncing their parents;
// the crash model (vfs.MemFS loses a directory whose parent was not synced)
// then lost the whole bus.
func TestNewDirectoriesSurviveCrash(t *testing.T) {
	cases := []struct {
		name string
		dir  string
		sync SyncMode
		// prepare runs on the empty filesystem before Open.
		prepare func(t *testing.T, fs *vfs.MemFS)
		// checkpoint: make the batch durable with a checkpoint (sync none).
		checkpoint bool
	}{
		{name: "fresh/always", dir: "/db", sync: SyncAlways},
		{name: "fresh/group", dir: "/db", sync: SyncGroup},
		{name: "fresh nested/group", dir: "/srv/data/db", sync: SyncGroup},
		{name: "fresh/none with checkpoint", dir: "/db", sync: SyncNone, checkpoint: true},
		{name: "left unsynced by a crashed process/always", dir: "/db", sync: SyncAlways,
			prepare: func(t *testing.T, fs *vfs.MemFS) {
				// The data directory is durable, its subdirectories are not.
				if err := vfs.MkdirAllAndSync(fs, "/db"); err != nil {
					t.Fatal(err)
				}
				for _, d := range []string{"/db/wal", "/db/checkpoints"} {
					if err := fs.MkdirAll(d); err != nil {
						t.Fatal(err)
					}
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := vfs.NewMem()
			if c.prepare != nil {
				c.prepare(t, mem)
			}
			opts := &Options{FS: mem, Sync: c.sync, CheckpointBytes: -1, Clock: testClock()}
			e := openT(t, c.dir, opts)
			specs := make([]PageSpec, fPages)
			for i := range specs {
				specs[i] = PageSpec{Size: fPageSize}
			}
			if _, err := e.CreatePages(ctx, specs); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Commit(ctx, fBatch(1)); err != nil {
				t.Fatal(err)
			}
			if c.checkpoint {
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			img := mem.CrashClone()
			e.Close()
			e2, err := Open(c.dir, &Options{FS: img, Sync: c.sync, CheckpointBytes: -1, Clock: testClock()})
			if err != nil {
				t.Fatalf("reopen after a crash: %v", err)
			}
			defer e2.Close()
			if ids, err := e2.PageIDs(); err != nil || len(ids) == 0 {
				t.Fatalf("a crash lost every page (directories not durable); recovery %+v", e2.Recovery())
			}
			if seq := fRecoveredSeq(t, e2); seq != 1 {
				t.Fatalf("recovered batch %d, want the acknowledged batch 1", seq)
			}
		})
	}
}

// TestDataDirectoryOwnerOnly: everything a bus creates in its data
// directory (the directory itself, wal/, checkpoints/, segments,
// checkpoints, LOCK) is readable by its owner alone, whatever the umask
// allows: the log and checkpoints hold every page's bytes. Before, they
// were created 0755/0644 (world-readable under the usual umask 022).
func TestDataDirectoryOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bus")
	e, err := Open(dir, &Options{Sync: SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	p := mustCreate(t, e, 1, 64)
	if _, err := e.Commit(ctx, []delta.Delta{{Page: p[0], Runs: []delta.Run{{Data: []byte("secret")}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want no access for group or others", path, fi.Mode().Perm())
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 6 { // the directory, wal/, checkpoints/, a segment, a checkpoint, LOCK
		t.Fatalf("walked %d entries under %s, want at least 6", seen, dir)
	}
}
