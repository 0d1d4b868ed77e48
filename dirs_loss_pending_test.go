package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestRemovedLogReportSurvivesFailedOpen: a Repair or DisableLog Open
// that accepts a removed log changes the directory (wal/ made, a segment
// made, "no log" written) and then fails (a function not registered, its
// shared region not published: openRecoveredHook stands for that). The
// loss was in no caller's hands, and the next Open saw an ordinary
// directory and reported nothing. It is reported by the next Open that
// succeeds now (with or without Repair and DisableLog), and by that one
// only.
func TestRemovedLogReportSurvivesFailedOpen(t *testing.T) {
	fn := func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil }
	funcs := map[string]RecomputeFunc{"mine": fn}
	// written returns /db on a new MemFS: two pages, the second bound to
	// "mine", a checkpoint (LSN 3), a commit after it (LSN 4), closed;
	// then its log is removed (wal/ emptied, or removed too).
	written := func(t *testing.T, removeDir bool) vfs.FS {
		t.Helper()
		fs := vfs.NewMem()
		e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock(), Functions: funcs})
		if err != nil {
			t.Fatal(err)
		}
		ids := mustCreate(t, e, 2, 8)
		if err := e.Bind(ctx, ids[1], "mine", nil, ids[:1]); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{1})}); err != nil {
			t.Fatal(err)
		}
		if got := e.LastLSN(); got != 4 {
			t.Fatalf("written: LSN %d, want 4", got)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		emptyWAL(t, fs)
		if removeDir {
			if err := fs.Remove("/db/wal"); err != nil {
				t.Fatal(err)
			}
		}
		return fs
	}
	errLater := errors.New("a later step of Open failed")
	for _, tc := range []struct {
		name       string
		removeDir  bool
		failed     Options // the Open that accepts the loss and fails
		hook       bool    // it fails at openRecoveredHook (else: its Functions lack "mine")
		next, last Options // the Open that succeeds, and the one after it
	}{
		{name: "Repair, function missing, then Open with the log", failed: Options{Repair: true}},
		{name: "Repair, later step, wal/ removed, then Repair", removeDir: true, failed: Options{Repair: true, Functions: funcs}, hook: true, next: Options{Repair: true}, last: Options{Repair: true}},
		{name: "DisableLog, later step, then DisableLog", failed: Options{DisableLog: true, Functions: funcs}, hook: true, next: Options{DisableLog: true}, last: Options{DisableLog: true}},
		{name: "DisableLog, later step, wal/ removed, then Open with the log", removeDir: true, failed: Options{DisableLog: true, Functions: funcs}, hook: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := written(t, tc.removeDir)
			open := func(o Options) (*Bus, error) {
				o.FS, o.CheckpointBytes, o.SegmentBytes, o.Clock = fs, -1, testSegmentBytes, testClock()
				if o.Functions == nil {
					o.Functions = funcs
				}
				return Open("/db", &o)
			}
			failed := tc.failed
			if !tc.hook {
				failed.Functions = map[string]RecomputeFunc{"other": fn}
			} else {
				openRecoveredHook = func() error { return errLater }
				t.Cleanup(func() { openRecoveredHook = nil })
			}
			e, err := open(failed)
			if err == nil {
				_ = e.Close()
				t.Fatal("the Open made to fail succeeded")
			}
			if tc.hook && !errors.Is(err, errLater) || !tc.hook && !errors.Is(err, ErrUnknownFunc) {
				t.Fatalf("the Open made to fail: %v", err)
			}
			openRecoveredHook = nil
			for i, o := range []Options{tc.next, tc.last} {
				e, err := open(o)
				if err != nil {
					t.Fatalf("Open %d after the failed one: %v", i+1, err)
				}
				rec, lsn := e.Recovery().Log, e.LastLSN()
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				if lsn != 3 {
					t.Fatalf("Open %d after the failed one reached LSN %d, want the checkpoint's 3", i+1, lsn)
				}
				wantFirst, wantLast := LSN(4), LostLSNUnknown
				if i == 1 {
					wantFirst, wantLast = 0, 0 // reported once
				}
				if rec.LostFirstLSN != wantFirst || rec.LostLastLSN != wantLast {
					t.Fatalf("Open %d after the failed one: Recovery().Log lost %d..%d, want %d..%d", i+1, rec.LostFirstLSN, rec.LostLastLSN, wantFirst, wantLast)
				}
			}
		})
	}
}

// TestStaleLossMarkNotReported: the mark of a pending loss
// (tlog.LossPendingFileName) is removed once the Open that reports the loss can no
// longer fail, and a crash before the directory's sync can bring it back.
// The bus has committed since; the next Open reported the commits from
// its last LSN + 1 on lost, commits that never were. A log holding a
// record is no removed log: the mark is dropped without a report.
func TestStaleLossMarkNotReported(t *testing.T) {
	fs := vfs.NewMem()
	open := func(o Options) *Bus {
		t.Helper()
		o.FS, o.CheckpointBytes, o.SegmentBytes, o.Clock = fs, -1, testSegmentBytes, testClock()
		e, err := Open("/db", &o)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := open(Options{})
	ids := mustCreate(t, e, 2, 8)
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{1})}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	emptyWAL(t, fs)
	e = open(Options{Repair: true})
	if got := e.Recovery().Log.LostFirstLSN; got != 3 {
		t.Fatalf("Repair Open of the removed log: LostFirstLSN %d, want 3", got)
	}
	if _, err := e.Commit(ctx, []Delta{Write(ids[1], 0, []byte{2})}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// The crash undid the mark's removal.
	mark := fs.Join("/db/checkpoints", tlog.LossPendingFileName)
	f, err := fs.Create(mark)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	e = open(Options{})
	rec, lsn := e.Recovery().Log, e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if lsn != 3 || rec.LostFirstLSN != 0 || rec.LostLastLSN != 0 {
		t.Fatalf("Open with the mark back: LSN %d, lost %d..%d; want LSN 3 and nothing lost", lsn, rec.LostFirstLSN, rec.LostLastLSN)
	}
	if fs.Exists(mark) {
		t.Fatalf("%s is still there after an Open", mark)
	}
}
