package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestDisableLogReportsRemovedLog: the refusals of a removed log and of a
// bus's lost files name Options.DisableLog as a way to accept the loss,
// and Repair's Open reports it in Recovery().Log (lost from the LSN after
// the loaded checkpoint, LostLSNUnknown to). A DisableLog Open accepted
// it without a word there: the caller had no way to tell the loss from an
// intact directory. Where the log-mode file says a log held the history,
// it reports the loss now, with Repair too; where no log-mode file says
// so (checkpoints without wal/, as a bus without a log wrote them before
// the file existed), or the log is there, it reports nothing. The Open
// after it (mode "no log" now) reports nothing again.
func TestDisableLogReportsRemovedLog(t *testing.T) {
	// written returns /db on a new MemFS: a page and three commits (LSN
	// 4), with a checkpoint after the second (LSN 3) when ckpt is set,
	// closed.
	written := func(t *testing.T, ckpt bool) vfs.FS {
		t.Helper()
		fs := vfs.NewMem()
		e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
		if err != nil {
			t.Fatal(err)
		}
		id := mustCreate(t, e, 1, 16)[0]
		for i := range 3 {
			if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{1})}); err != nil {
				t.Fatal(err)
			}
			if ckpt && i == 1 {
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		return fs
	}
	removeWAL := func(t *testing.T, fs vfs.FS) {
		t.Helper()
		emptyWAL(t, fs)
		if err := fs.Remove("/db/wal"); err != nil {
			t.Fatal(err)
		}
	}
	noModeFile := func(t *testing.T, fs vfs.FS) {
		t.Helper()
		if err := fs.Remove("/db/checkpoints/" + tlog.ModeFileName); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		ckpt    bool
		prepare func(t *testing.T, fs vfs.FS)
		repair  bool
		lost    LSN // LostFirstLSN wanted (0: no loss reported)
		wantLSN LSN
	}{
		{name: "lost files: wal/ emptied", prepare: emptyWAL, lost: 1},
		{name: "lost files: wal/ removed", prepare: removeWAL, lost: 1},
		{name: "lost files: wal/ emptied, Repair too", prepare: emptyWAL, repair: true, lost: 1},
		{name: "segments removed beside a checkpoint", ckpt: true, prepare: emptyWAL, lost: 4, wantLSN: 3},
		{name: "wal/ removed beside a checkpoint", ckpt: true, prepare: removeWAL, lost: 4, wantLSN: 3},
		{name: "wal/ removed beside a checkpoint, no log-mode file (control: maybe a bus without a log)", ckpt: true,
			prepare: func(t *testing.T, fs vfs.FS) { removeWAL(t, fs); noModeFile(t, fs) }, wantLSN: 3},
		{name: "wal/ emptied, no log-mode file (control: a bus that held nothing)",
			prepare: func(t *testing.T, fs vfs.FS) { emptyWAL(t, fs); noModeFile(t, fs) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := written(t, tc.ckpt)
			tc.prepare(t, fs)
			opts := Options{FS: fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock(), DisableLog: true, Repair: tc.repair}
			for i, wantLost := range []LSN{tc.lost, 0} { // the Open after it reports nothing again
				e, err := Open("/db", &opts)
				if err != nil {
					t.Fatalf("DisableLog Open %d: %v", i+1, err)
				}
				rec, lsn := e.Recovery().Log, e.LastLSN()
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				if lsn != tc.wantLSN {
					t.Fatalf("DisableLog Open %d reached LSN %d, want %d", i+1, lsn, tc.wantLSN)
				}
				wantLast := LSN(0)
				if wantLost != 0 {
					wantLast = LostLSNUnknown
				}
				if rec.LostFirstLSN != wantLost || rec.LostLastLSN != wantLast {
					t.Fatalf("DisableLog Open %d: Recovery().Log lost %d..%d, want %d..%d", i+1, rec.LostFirstLSN, rec.LostLastLSN, wantLost, wantLast)
				}
			}
		})
	}
}

// TestDisableLogSwitchReportsNoLoss: a bus switched from a log to none
// and back, again and again, loses nothing, and no Open of it reports a
// loss in Recovery().Log; nor does a bus without a log whose (empty)
// wal/ is removed: its log-mode file says "no log".
func TestDisableLogSwitchReportsNoLoss(t *testing.T) {
	fs := vfs.NewMem()
	var id PageID
	for i, disable := range []bool{false, true, false, true, true} {
		e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock(), DisableLog: disable})
		if err != nil {
			t.Fatalf("Open %d (DisableLog %v): %v", i+1, disable, err)
		}
		if rec := e.Recovery().Log; rec.LostFirstLSN != 0 || rec.LostLastLSN != 0 {
			_ = e.Close()
			t.Fatalf("Open %d (DisableLog %v) reports lost LSNs %d..%d", i+1, disable, rec.LostFirstLSN, rec.LostLastLSN)
		}
		if i == 0 {
			id = mustCreate(t, e, 1, 16)[0]
		}
		if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{byte(i + 1)})}); err != nil {
			t.Fatal(err)
		}
		// A checkpoint at the end: a DisableLog Open refuses a log that
		// holds what no checkpoint does.
		if _, err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			// A bus without a log: its wal/ holds nothing; remove it.
			emptyWAL(t, fs)
			if err := fs.Remove("/db/wal"); err != nil {
				t.Fatal(err)
			}
		}
	}
}
