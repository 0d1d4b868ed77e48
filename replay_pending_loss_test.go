package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// pendingLossDir returns /db on a new MemFS holding a removed log that an
// Open with Repair accepted and then failed after (the binding's function
// not registered), leaving checkpoints/log-mode.lost: two pages, the
// second bound to "mine", a checkpoint at LSN 3, a commit at LSN 4 that
// went with the log. The failed Open made a segment: the directory looks
// intact but for the mark.
func pendingLossDir(t *testing.T) (vfs.FS, map[string]RecomputeFunc) {
	t.Helper()
	fn := func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil }
	funcs := map[string]RecomputeFunc{"mine": fn}
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
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	emptyWAL(t, fs)
	if e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Repair: true}); !errors.Is(err, ErrUnknownFunc) {
		if err == nil {
			e.Close()
		}
		t.Fatalf("Repair Open without the function: %v, want ErrUnknownFunc", err)
	}
	if !fs.Exists(fs.Join("/db/checkpoints", tlog.LossPendingFileName)) {
		t.Fatal("the failed Repair Open left no loss mark")
	}
	return fs, funcs
}

// TestReplayReportsPendingLoss: Replay of a directory whose removed log
// an Open accepted and failed after answered the checkpoint's state
// (LSN 3) with nothing in Recovery() of the commits lost after it, while
// the next Open reports them. It reports them as that Open does; a replay
// to an LSN the checkpoint holds does not read to the end and lost
// nothing; and once the Open reported the loss, a replay reports none.
func TestReplayReportsPendingLoss(t *testing.T) {
	fs, funcs := pendingLossDir(t)
	for _, o := range []Options{{FS: fs, Functions: funcs}, {FS: fs, Functions: funcs, Repair: true}} {
		r, err := Replay(ctx, "/db", ReplayTarget{}, &o)
		if err != nil {
			t.Fatalf("Replay (Repair %v): %v", o.Repair, err)
		}
		rec, lsn := r.Recovery().Log, r.LastLSN()
		r.discard()
		if lsn != 3 || rec.LostFirstLSN != 4 || rec.LostLastLSN != LostLSNUnknown {
			t.Errorf("Replay (Repair %v) of the pending loss: LSN %d, lost %d..%d; want LSN 3, lost 4..LostLSNUnknown", o.Repair, lsn, rec.LostFirstLSN, rec.LostLastLSN)
		}
	}
	r, err := Replay(ctx, "/db", ReplayTarget{ToLSN: 3}, &Options{FS: fs, Functions: funcs})
	if err != nil {
		t.Fatal(err)
	}
	if rec := r.Recovery().Log; rec.LostFirstLSN != 0 || rec.LostLastLSN != 0 {
		t.Errorf("Replay to LSN 3: lost %d..%d, want nothing", rec.LostFirstLSN, rec.LostLastLSN)
	}
	r.discard()

	e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Functions: funcs})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Recovery().Log.LostFirstLSN; got != 4 {
		t.Errorf("Open after the failed one: LostFirstLSN %d, want 4", got)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	r, err = Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs, Functions: funcs})
	if err != nil {
		t.Fatal(err)
	}
	if rec := r.Recovery().Log; rec.LostFirstLSN != 0 || rec.LostLastLSN != 0 {
		t.Errorf("Replay once an Open reported the loss: lost %d..%d, want nothing", rec.LostFirstLSN, rec.LostLastLSN)
	}
	r.discard()
}

// TestQueryLogDirRefusesPendingLoss: QueryLogDir of a directory whose
// removed log an Open accepted and failed after answered its log (the
// empty segment the failed Open made) as the whole history after the
// checkpoint, with no error. It is ErrCorruption naming the mark now, and
// answers again once an Open has reported the loss, and when the mark is
// stale (the log holds a commit past the checkpoint: see
// TestStaleLossMarkNotReported).
func TestQueryLogDirRefusesPendingLoss(t *testing.T) {
	fs, funcs := pendingLossDir(t)
	mark := fs.Join("/db/checkpoints", tlog.LossPendingFileName)
	query := func() error {
		return QueryLogDir(ctx, fs, "/db", LogQuery{FromLSN: 4}, func(*LoggedOp) bool { return true })
	}
	err := query()
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), mark) || !strings.Contains(err.Error(), "from LSN 4") {
		t.Fatalf("QueryLogDir of the pending loss: %v, want ErrCorruption naming %s and LSN 4", err, mark)
	}
	e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Functions: funcs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(1, 0, []byte{2})}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := query(); err != nil {
		t.Fatalf("QueryLogDir once an Open reported the loss: %v", err)
	}
	// A crash brought the mark back after the bus committed: stale.
	f, err := fs.Create(mark)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := query(); err != nil {
		t.Fatalf("QueryLogDir with a stale mark (a commit past the checkpoint): %v", err)
	}
}
