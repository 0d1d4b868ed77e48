package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestOpenRefusesRemovedNewestSegment: the newest log segment deleted
// (by hand, a bad restore), Open recovered to the end of the segment
// before it and reported nothing: the commits in the deleted one were
// gone, and the next commits took their LSNs. Open, Replay and
// QueryLogDir refuse the directory now (ErrCorruption naming
// wal/newest-segment and the missing segment), and so does an Open
// without a log (it would drop the log, the loss unreported); Open with
// Repair reports
// the commits from the log's end on lost, and the next Open opens as
// usual.
func TestOpenRefusesRemovedNewestSegment(t *testing.T) {
	fs := vfs.NewMem()
	open := func(o Options) (*Bus, error) {
		o.FS, o.CheckpointBytes, o.SegmentBytes, o.Clock = fs, -1, 4096, testClock()
		return Open("/db", &o)
	}
	e, err := open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := mustCreate(t, e, 1, 64)
	for i := range 200 {
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
			t.Fatal(err)
		}
	}
	last := e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := fs.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, n := range names {
		if isSegmentName(n) {
			segs = append(segs, n)
		}
	}
	if len(segs) < 3 {
		t.Fatalf("%d segments, want 3 or more", len(segs))
	}
	newest := segs[len(segs)-1] // List sorts; the names are zero-padded
	if err := fs.Remove(fs.Join("/db/wal", newest)); err != nil {
		t.Fatal(err)
	}
	lostFrom, _ := tlog.ParseSegmentName(newest)
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), tlog.NewestFileName) || !strings.Contains(err.Error(), newest) {
			t.Errorf("%s with the newest segment removed: %v, want ErrCorruption naming %s and %s", what, err, tlog.NewestFileName, newest)
		}
	}
	if e, err := open(Options{}); err == nil {
		e.Close()
		t.Fatalf("Open with the newest segment removed: opened at LSN %d (it was %d), want ErrCorruption", e.LastLSN(), last)
	} else {
		refused("Open", err)
	}
	if r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs}); err == nil {
		r.discard()
		t.Error("Replay with the newest segment removed: no error")
	} else {
		refused("Replay", err)
	}
	refused("QueryLogDir", QueryLogDir(ctx, fs, "/db", LogQuery{}, func(*LoggedOp) bool { return true }))
	if e, err := open(Options{DisableLog: true}); err == nil {
		e.Close()
		t.Error("DisableLog Open with the newest segment removed: opened, want ErrCorruption")
	} else {
		refused("DisableLog Open", err)
	}

	e, err = open(Options{Repair: true})
	if err != nil {
		t.Fatalf("Repair Open: %v", err)
	}
	rec, got := e.Recovery().Log, e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if got != lostFrom-1 || rec.LostFirstLSN != lostFrom || rec.LostLastLSN != LostLSNUnknown {
		t.Fatalf("Repair Open: LSN %d, lost %d..%d; want LSN %d, lost %d..LostLSNUnknown", got, rec.LostFirstLSN, rec.LostLastLSN, lostFrom-1, lostFrom)
	}
	e, err = open(Options{})
	if err != nil {
		t.Fatalf("Open after the Repair Open reported the loss: %v", err)
	}
	if rec := e.Recovery().Log; rec.LostFirstLSN != 0 || e.LastLSN() != lostFrom-1 {
		t.Errorf("Open after the Repair Open: LSN %d, lost %d; want LSN %d, nothing lost", e.LastLSN(), rec.LostFirstLSN, lostFrom-1)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}
