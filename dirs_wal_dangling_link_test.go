package mmsb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestLogDirDanglingLink: a data directory whose wal/ is a symbolic link to
// a directory that is not there (its disk not mounted, a link restored
// without its target) read as one without wal/: Open, Replay and
// QueryLogDir refused it as a removed log (with a checkpoint) or as the
// bus's lost files (without one), naming Options.Repair, and an Open with
// Repair then failed at making wal/ ("mkdir …: file exists"). The log is
// out of reach, not lost: each refuses it naming the link
// (vfs.ErrDanglingLink), with Repair and DisableLog too, and changes
// nothing; with the target back, the bus opens at its last commit.
func TestLogDirDanglingLink(t *testing.T) {
	for _, ckpt := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpoint %v", ckpt), func(t *testing.T) {
			root := t.TempDir()
			dir, disk := filepath.Join(root, "db"), filepath.Join(root, "disk")
			wal := filepath.Join(dir, "wal")
			e, err := Open(dir, &Options{CheckpointBytes: -1, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			id := mustCreate(t, e, 1, 16)[0]
			for i := range 3 {
				if ckpt && i == 2 {
					if _, err := e.Checkpoint(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{1})}); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			// The log moves to a disk, linked from wal/; the disk is
			// then unmounted (moved away here).
			if err := os.MkdirAll(disk, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(wal, filepath.Join(disk, "wal")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(disk, "wal"), wal); err != nil {
				t.Skipf("no symbolic links here: %v", err)
			}
			if err := os.Rename(disk, disk+".unmounted"); err != nil {
				t.Fatal(err)
			}
			before := treeNames(t, dir)
			for _, via := range []string{"Open", "Open with Repair", "Open with DisableLog", "Replay", "QueryLogDir"} {
				switch via {
				case "Open", "Open with Repair", "Open with DisableLog":
					o := &Options{CheckpointBytes: -1, Clock: testClock(), Repair: via == "Open with Repair", DisableLog: via == "Open with DisableLog"}
					var b *Bus
					if b, err = Open(dir, o); err == nil {
						_ = b.Close()
					}
				case "Replay":
					var b *Bus
					if b, err = Replay(ctx, dir, ReplayTarget{}, nil); err == nil {
						_ = b.Close()
					}
				case "QueryLogDir":
					err = QueryLogDir(ctx, vfs.Default, dir, LogQuery{}, func(*LoggedOp) bool { return true })
				}
				if !errors.Is(err, vfs.ErrDanglingLink) || !strings.Contains(err.Error(), wal) || !strings.Contains(err.Error(), "out of reach") {
					t.Fatalf("%s = %v, want an error wrapping vfs.ErrDanglingLink naming %s, out of reach", via, err, wal)
				}
				if after := treeNames(t, dir); after != before {
					t.Fatalf("%s changed the directory: %s, was %s", via, after, before)
				}
			}
			// Mounted again: nothing was lost.
			if err := os.Rename(disk+".unmounted", disk); err != nil {
				t.Fatal(err)
			}
			b, err := Open(dir, &Options{CheckpointBytes: -1, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			if got := b.LastLSN(); got != 4 {
				t.Errorf("reopened at LSN %d, want 4", got)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// treeNames lists dir's tree (not following symbolic links): each name,
// its type and size.
func treeNames(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d; ", strings.TrimPrefix(path, dir), d.Type(), info.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
