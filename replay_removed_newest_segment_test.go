package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// removeNewestSegment writes a bus in /db on a new memory FS whose log
// rotated (wal/newest-segment written), closes it and removes its newest
// segment; it returns the FS and the first LSN of the removed segment.
func removeNewestSegment(t *testing.T) (vfs.FS, LSN) {
	t.Helper()
	fs := vfs.NewMem()
	e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	ids := mustCreate(t, e, 1, 64)
	for i := range 200 {
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := fs.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	newest := ""
	for _, n := range names {
		if isSegmentName(n) && n > newest {
			newest = n
		}
	}
	if err := fs.Remove(fs.Join("/db/wal", newest)); err != nil {
		t.Fatal(err)
	}
	first, _ := tlog.ParseSegmentName(newest)
	return fs, first
}

// TestReplayRepairReportsRemovedNewestSegment: Replay with Repair of a
// directory whose newest segment was removed replayed to the end of the
// segments left and reported nothing lost, where Open with Repair
// reports the LSNs from there on lost (Recovery().Log).
func TestReplayRepairReportsRemovedNewestSegment(t *testing.T) {
	fs, lostFrom := removeNewestSegment(t)
	r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs, Repair: true})
	if err != nil {
		t.Fatalf("Replay with Repair: %v", err)
	}
	defer r.discard()
	rec := r.Recovery().Log
	if r.LastLSN() != lostFrom-1 || rec.LostFirstLSN != lostFrom || rec.LostLastLSN != LostLSNUnknown {
		t.Errorf("Replay with Repair: LSN %d, lost %d..%d; want LSN %d, lost %d..LostLSNUnknown (as Open with Repair reports it)",
			r.LastLSN(), rec.LostFirstLSN, rec.LostLastLSN, lostFrom-1, lostFrom)
	}
}

// TestNewestSegmentTempLeftByCrash: a crash while the log rewrote
// wal/newest-segment leaves wal/newest-segment.tmp (any bytes). It is no
// segment and no newest-segment file: Open, Replay and QueryLogDir read
// the bus as whole, and the next rotation replaces it (vfs.ReplaceFile
// removes it first), so Open leaves it.
func TestNewestSegmentTempLeftByCrash(t *testing.T) {
	fs := vfs.NewMem()
	open := func() *Bus {
		t.Helper()
		e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	commit := func(e *Bus, id PageID, n int) {
		t.Helper()
		for i := range n {
			if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
				t.Fatal(err)
			}
		}
	}
	e := open()
	id := mustCreate(t, e, 1, 64)[0]
	commit(e, id, 100)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	tmp := fs.Join("/db/wal", tlog.NewestFileName+".tmp")
	f, err := fs.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("MMSBTLNS torn")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	e = open()
	want := e.LastLSN()
	if r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs}); err != nil {
		t.Errorf("Replay beside %s: %v", tmp, err)
	} else {
		if r.LastLSN() != want || r.Recovery().Log.LostFirstLSN != 0 {
			t.Errorf("Replay beside %s: LSN %d, lost from %d; want LSN %d, nothing lost", tmp, r.LastLSN(), r.Recovery().Log.LostFirstLSN, want)
		}
		r.discard()
	}
	if err := QueryLogDir(ctx, fs, "/db", LogQuery{}, func(*LoggedOp) bool { return true }); err != nil {
		t.Errorf("QueryLogDir beside %s: %v", tmp, err)
	}
	before, err := tlog.ReadNewest(fs, "/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	commit(e, id, 100) // rotates
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := tlog.ReadNewest(fs, "/db/wal")
	if err != nil || after <= before {
		t.Errorf("newest-segment after more rotations: %d, %v; want past %d", after, err, before)
	}
	if fs.Exists(tmp) {
		t.Errorf("%s still there after a rotation", tmp)
	}
	e = open()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}
