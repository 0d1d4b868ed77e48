package validate

import (
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestIntegrityCatchesFilesLostWithoutCheckpoint: a bus with a log that
// never took a checkpoint, whose wal/ was then emptied or removed, lost
// every operation it committed, and Open, mmsb.Replay and QueryLogDir
// refuse it (checkpoints/log-mode says "log", and no segment is left:
// tlog.FilesLost). The integrity validator checked for a removed log only
// beside a checkpoint: scanned as an empty log, the directory passed as an
// empty bus. It is an lsn problem naming wal/ now, from the same function
// as Open's refusal; a log-mode file that does not decode is a failed
// check naming it, as beside a checkpoint. The controls: the intact
// directory, and the emptied one without its log-mode file (written
// before the file existed: nothing says a log was there), pass.
func TestIntegrityCatchesFilesLostWithoutCheckpoint(t *testing.T) {
	wal, ckDir := busDir+"/wal", busDir+"/checkpoints"
	modePath := ckDir + "/" + tlog.ModeFileName
	emptyWAL := func(t *testing.T, fs vfs.FS) {
		t.Helper()
		names, err := fs.List(wal)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := fs.Remove(wal + "/" + n); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, fs vfs.FS)
		want    string // "" : passes
		kind    ProblemKind
		where   string
	}{
		{name: "intact (control)"},
		{name: "wal/ emptied", prepare: emptyWAL, want: "its files were lost", kind: KindLSN, where: wal},
		{name: "wal/ removed", prepare: func(t *testing.T, fs vfs.FS) {
			emptyWAL(t, fs)
			if err := fs.Remove(wal); err != nil {
				t.Fatal(err)
			}
		}, want: "its files were lost", kind: KindLSN, where: wal},
		{name: "wal/ emptied, no log-mode file (control)", prepare: func(t *testing.T, fs vfs.FS) {
			emptyWAL(t, fs)
			if err := fs.Remove(modePath); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "log-mode damaged", prepare: func(t *testing.T, fs vfs.FS) {
			writeFile(t, fs, modePath, []byte("not a log mode at all"))
		}, want: modePath, kind: KindFailed, where: ckDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), CheckpointBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Offset: uint32(i), Data: []byte{1}}}}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(t, fs)
			}
			// Open agrees: it refuses exactly the directories reported.
			if b, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), CheckpointBytes: -1}); err == nil {
				if tc.want != "" {
					t.Errorf("Open accepted a directory the validator is to report")
				}
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				if tc.prepare != nil {
					tc.prepare(t, fs) // the Open remade wal/ and its segment
				}
			} else if tc.want == "" {
				t.Fatalf("Open refused a directory the validator passes: %v", err)
			}
			rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
			if tc.prepare == nil {
				requireOK(t, rep, err)
				return
			}
			if tc.want == "" {
				// An emptied log holds nothing to check: no problem is
				// what counts.
				if err != nil || !rep.OK() {
					t.Fatalf("%s: %v; %d problem(s): %v", rep.Name, err, rep.Total, rep.Problems)
				}
				return
			}
			p := requireKind(t, rep, err, tc.want, tc.kind, 0)
			if p.Where != tc.where {
				t.Fatalf("problem at %q, want %q: %v", p.Where, tc.where, p)
			}
		})
	}
}
