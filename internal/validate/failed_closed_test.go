package validate

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestValidatorsRefuseFailedThenClosedBus: a bus that failed (an fsync of
// its log failed) and was then closed answers Err with the failure, not
// ErrClosed, so the live target's closed check let it through: purity
// listed "bound page: mmsb: bus closed" once per binding and returned no
// error, integrity and replay failed on Flush with ErrClosed. Every
// validator now returns one error that is mmsb.ErrClosed and still names
// the failure (mmsb.ErrFailed), and reports no problem.
func TestValidatorsRefuseFailedThenClosedBus(t *testing.T) {
	tog := errorfs.NewToggle(errorfs.OnPath("wal", errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected)))
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: mmsb.SyncNone, Clock: testClock()})
	mustNil(t, err)
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	mustNil(t, err)
	mustNil(t, e.Bind(ctx, ids[1], "passthrough", nil, ids[:1]))
	mustNil(t, e.Bind(ctx, ids[2], "passthrough", nil, ids[:1]))
	tog.On()
	if err := e.Flush(ctx); !errors.Is(err, mmsb.ErrFailed) {
		t.Fatalf("Flush with a failing fsync = %v, want mmsb.ErrFailed", err)
	}
	tog.Off()
	_ = e.Close() // a failed bus's Close may report the failure again
	if err := e.Err(); !errors.Is(err, mmsb.ErrFailed) {
		t.Fatalf("Err() of a failed, closed bus = %v, want mmsb.ErrFailed (the case under test)", err)
	}
	for _, v := range All() {
		rep, err := v.Fn(ctx, Live(e), Options{})
		if !errors.Is(err, mmsb.ErrClosed) || !errors.Is(err, mmsb.ErrFailed) || rep.Total != 0 {
			t.Errorf("%s on a failed, closed bus: error %v, %d problem(s) %v; want one error, mmsb.ErrClosed naming mmsb.ErrFailed, and no problem",
				v.Name, err, rep.Total, rep.Problems)
		}
	}
	_, err = NewInvariants().Check(ctx, e, Options{})
	if !errors.Is(err, mmsb.ErrClosed) || !errors.Is(err, mmsb.ErrFailed) {
		t.Errorf("Invariants.Check on a failed, closed bus: error %v, want mmsb.ErrClosed naming mmsb.ErrFailed", err)
	}

	// A closed bus without a log: integrity and replay said "not
	// compared" (no history to check) instead of refusing it.
	nl, err := mmsb.Open(busDir, &mmsb.Options{FS: vfs.NewMem(), Clock: testClock(), DisableLog: true})
	mustNil(t, err)
	_, err = nl.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	mustNil(t, err)
	mustNil(t, nl.Close())
	for _, v := range All() {
		rep, err := v.Fn(ctx, Live(nl), Options{})
		if !errors.Is(err, mmsb.ErrClosed) || rep.Outcome() == OutcomeNotCompared {
			t.Errorf("%s on a closed bus without a log: error %v, outcome %s; want mmsb.ErrClosed", v.Name, err, rep.Outcome())
		}
	}
}
