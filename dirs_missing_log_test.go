package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestOpenRefusesMissingLogDir: a data directory whose wal/ was removed
// lost every operation committed after its newest checkpoint. Open made an
// empty log and opened at the checkpoint: nothing reported the loss, and
// the next commits reused the lost LSNs. It is ErrCorruption now, naming
// wal/, and Open creates nothing. Repair opens; so does an intact
// directory (the control). A wal/ made again empty was accepted as the
// loss accepted by hand until checkpoints/log-mode: it is the emptied log
// of TestEmptiedLogRefused now, refused too, and Repair opens it.
func TestOpenRefusesMissingLogDir(t *testing.T) {
	for _, tc := range []struct {
		name            string
		remove, remake  bool
		repair, refused bool
		wantLSN         int
	}{
		{name: "intact (control)", wantLSN: 9},
		{name: "wal removed", remove: true, refused: true},
		{name: "wal removed, Repair", remove: true, repair: true, wantLSN: 5},
		// Since checkpoints/log-mode, an empty wal/ beside it is a log whose
		// segments were removed (TestEmptiedLogRefused): making it again
		// empty no longer accepts the loss; Repair does.
		{name: "wal removed and made again empty", remove: true, remake: true, refused: true},
		{name: "wal removed and made again empty, Repair", remove: true, remake: true, repair: true, wantLSN: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := logRemovedDir(t, tc.remove, tc.remake)
			e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Repair: tc.repair, Clock: testClock()})
			if tc.refused {
				want := "has checkpoints/ but no wal/"
				if tc.remake {
					want = "/db/wal holds no log segment"
				}
				if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), want) {
					t.Fatalf("Open = %v, want ErrCorruption saying %q", err, want)
				}
				if !tc.remake && fs.Exists("/db/wal") {
					t.Fatal("the refused Open made wal/")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if got := e.LastLSN(); got != LSN(tc.wantLSN) {
				t.Fatalf("LastLSN after Open = %d, want %d", got, tc.wantLSN)
			}
			// Repair says what it accepted: the commits after the
			// checkpoint, how many not known (TestRepairReportsLostLSNs).
			wantFirst, wantLast := LSN(0), LSN(0)
			if tc.repair {
				wantFirst, wantLast = LSN(tc.wantLSN)+1, LostLSNUnknown
			}
			if rep := e.Recovery().Log; rep.LostFirstLSN != wantFirst || rep.LostLastLSN != wantLast {
				t.Fatalf("lost LSNs %d..%d, want %d..%d", rep.LostFirstLSN, rep.LostLastLSN, wantFirst, wantLast)
			}
		})
	}
}

// An Open that failed after making checkpoints/ and before wal/ leaves
// checkpoints/ with no checkpoint in it: nothing a log continued, so the
// next Open goes on (the fault sweep fails that mkdir).
func TestOpenAfterOpenFailedBeforeLogDir(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("/db/checkpoints"); err != nil {
		t.Fatal(err)
	}
	e, err := Open("/db", &Options{FS: fs, Clock: testClock()})
	if err != nil {
		t.Fatalf("Open of a directory with an empty checkpoints/ and no wal/: %v", err)
	}
	defer e.Close()
	if e.LastLSN() != 0 {
		t.Fatalf("LastLSN %d, want 0", e.LastLSN())
	}
}

// emptyDir removes every file in dir on fs, leaving dir.
func emptyDir(t *testing.T, fs vfs.FS, dir string) {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := fs.Remove(fs.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
}

// logRemovedDir writes /db on a new in-memory filesystem: a page, 8
// commits, a checkpoint after the 4th (LSN 5 of 9). With remove its wal/
// is then removed (the log lost); with remake too, made again empty (an
// emptied log: refused as well since checkpoints/log-mode).
func logRemovedDir(t *testing.T, remove, remake bool) vfs.FS {
	t.Helper()
	fs := vfs.NewMem()
	e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	id := mustCreate(t, e, 1, 16)[0]
	for i := range 8 {
		if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{1})}); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if remove {
		emptyDir(t, fs, "/db/wal")
		if err := fs.Remove("/db/wal"); err != nil {
			t.Fatal(err)
		}
	}
	if remake {
		if err := fs.MkdirAll("/db/wal"); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}
