package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestOpenWithoutLogRefusesALoggedDirectory: Options.DisableLog on a
// directory whose wal/ holds a log opened at the newest checkpoint and
// ignored the operations logged after it; the bus then committed over
// their LSNs, and a checkpoint it wrote made the next Open with the log
// apply the rest of the old log on top of it. Page bytes "ABB" (A
// checkpointed, then B at offsets 1 and 2) came back as "A\x00B..C": the
// middle commit lost, the last one kept. It is ErrInvalidOption now,
// naming the segment, and the directory is left as it was. A directory
// that never had a log, and one whose wal/ is empty, open without one
// (the controls).
func TestOpenWithoutLogRefusesALoggedDirectory(t *testing.T) {
	for _, tc := range []struct {
		name string
		// logged: the directory was written by a bus with its log;
		// emptied: its wal/ segments were removed, wal/ kept.
		logged, emptied, refused bool
	}{
		{name: "written without a log (control)"},
		{name: "logged, wal/ emptied (control)", logged: true, emptied: true},
		{name: "logged", logged: true, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Clock: testClock(), DisableLog: !tc.logged})
			if err != nil {
				t.Fatal(err)
			}
			id := mustCreate(t, e, 1, 8)[0]
			if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte("A"))}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			for off := uint32(1); off <= 2; off++ {
				if _, err := e.Commit(ctx, []Delta{Write(id, off, []byte("B"))}); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.logged {
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.emptied {
				emptyDir(t, fs, "/db/wal")
			}
			d, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Clock: testClock(), DisableLog: true})
			if !tc.refused {
				if err != nil {
					t.Fatalf("Open without a log: %v", err)
				}
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				// What the refusal prevents: a commit and a checkpoint
				// over the ignored log.
				_, cerr := d.Commit(ctx, []Delta{Write(id, 5, []byte("C"))})
				_, kerr := d.Checkpoint(ctx)
				_ = d.Close()
				var got []byte
				if r, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Clock: testClock()}); err == nil {
					got = readPage(t, r, id)
					_ = r.Close()
				}
				t.Fatalf("Open without a log of a logged directory succeeded; after a commit (%v) and a checkpoint (%v) the page reopened with its log holds %q", cerr, kerr, got)
			}
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "DisableLog") || !strings.Contains(err.Error(), "00000000000000000001.log") {
				t.Fatalf("Open without a log = %v, want ErrInvalidOption naming DisableLog and the segment", err)
			}
			e, err = Open("/db", &Options{FS: fs, CheckpointBytes: -1, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if got := string(readPage(t, e, id)[:3]); got != "ABB" {
				t.Fatalf("page reopened with its log holds %q, want \"ABB\"", got)
			}
		})
	}
}
