package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestRepairCutThenFailedOpenAdvice: an Open with Repair that cut the log
// at damage in a middle segment removes the segments after it, and leaves
// wal/newest-segment naming the newest of them until its Open can no
// longer fail (tlog.Log.SettleNewest). Failing there (its rewrite of the
// file, injected), it leaves a directory that the next Open refuses as
// one whose newest segments were removed. The refusal told the operator
// to restore them into wal/, which nothing can: Repair removed them. It
// names the other cause now, and the way on (Repair again), which opens
// the bus at the end of the cut segment and reports the LSNs past it lost,
// to the last one committed (LSN 201: wal/repair-lost records it).
func TestRepairCutThenFailedOpenAdvice(t *testing.T) {
	mem := vfs.NewMem()
	fault := errorfs.NewToggle(errorfs.OnPath(tlog.NewestFileName+".tmp", errorfs.OnKind(errorfs.OpCreate, errorfs.ErrInjected)))
	fs := errorfs.Wrap(mem, fault)
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
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var segs []string
	names, err := mem.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if isSegmentName(n) {
			segs = append(segs, n)
		}
	}
	if len(segs) < 3 {
		t.Fatalf("%d segments, want 3 or more", len(segs))
	}
	middle, newest := segs[len(segs)-2], segs[len(segs)-1]
	flipByte(t, mem, mem.Join("/db/wal", middle), -10) // the middle segment's last record
	fault.On()
	if e, err := open(Options{Repair: true}); err == nil {
		e.Close()
		t.Fatal("Repair Open with the newest-segment file's rewrite failing: opened")
	}
	fault.Off()
	if mem.Exists(mem.Join("/db/wal", newest)) {
		t.Fatalf("the failed Repair Open left %s: it did not cut the log", newest)
	}
	_, err = open(Options{})
	if !errors.Is(err, ErrCorruption) {
		t.Fatalf("Open after the failed Repair Open: %v, want ErrCorruption", err)
	}
	t.Logf("Open: %v", err)
	if msg := err.Error(); !strings.Contains(msg, "Repair again") {
		t.Errorf("Open after a Repair Open that cut %s and failed: %v\nwant the advice to open it with Repair again (the segments cannot be restored: Repair removed them)", newest, err)
	}
	// Nothing tells this directory from one whose segments were deleted,
	// which a copy restores: the advice to open it with Repair again
	// must say that Repair gives them up for good, and only after a
	// Repair that failed.
	if msg := err.Error(); !strings.Contains(msg, "before any Open with Options.Repair, which gives them up for good") || !strings.Contains(msg, "only if an Open with Options.Repair cut the log") {
		t.Errorf("Open after a Repair Open that cut %s and failed: %v\nwant the advice to restore deleted segments before any Repair, which gives them up for good, and Repair again only after a Repair that failed", newest, err)
	}
	e, err = open(Options{Repair: true})
	if err != nil {
		t.Fatalf("second Repair Open: %v", err)
	}
	rec, last := e.Recovery().Log, e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// The first Repair recorded its cut in wal/repair-lost, to the last
	// LSN committed (the removed newest segment's records counted): the
	// report ends there, not at LostLSNUnknown
	// (TestRepairLostKeepsKnownEndPastRemovedSegments).
	if rec.LostFirstLSN != last+1 || rec.LostLastLSN != 201 {
		t.Errorf("second Repair Open: LSN %d, lost %d..%d; want lost %d..201", last, rec.LostFirstLSN, rec.LostLastLSN, last+1)
	}
	e, err = open(Options{})
	if err != nil {
		t.Fatalf("Open after the second Repair Open: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}
