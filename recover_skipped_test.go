package mmsb

import (
	"errors"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestRecoverBeforeSkippedCheckpointFails: a checkpoint covers LSNs that
// the log durably held when it was taken. When it does not load and the
// state recovered from an older checkpoint and the log ends before its
// LSN (here the log's last record, which it covers, is damaged too),
// committed operations are missing: Open must fail with ErrCorruption
// naming the checkpoint, not open at an older state. Repair opens at
// the older state.
func TestRecoverBeforeSkippedCheckpointFails(t *testing.T) {
	fs, cks, _ := replayFallbackDir(t, 2, false) // the newest checkpoint is the last thing done
	newest := cks[len(cks)-1]
	segs, err := fs.List("/db/wal")
	if err != nil || len(segs) == 0 {
		t.Fatalf("wal: %v %v", segs, err)
	}
	segs = slices.DeleteFunc(segs, func(n string) bool { return !isSegmentName(n) }) // not wal/newest-segment
	last := fs.Join("/db/wal", segs[len(segs)-1])
	data := testutil.ReadFile(t, fs, last)
	writeAll(t, fs, last, data[:len(data)-3]) // the last record, LSN newest.LSN, torn
	flipByte(t, fs, newest.Path, -30)
	e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1})
	if err == nil {
		n := e.LastLSN()
		e.Close()
		t.Fatalf("opened at LSN %d, before the LSN %d of the checkpoint that did not load", n, newest.LSN)
	}
	if !errors.Is(err, ErrCorruption) {
		t.Fatalf("open: %v, want ErrCorruption", err)
	}
	e, err = Open("/db", &Options{FS: fs, CheckpointBytes: -1, Repair: true})
	if err != nil {
		t.Fatalf("open with Repair: %v", err)
	}
	defer e.Close()
	if e.LastLSN() >= newest.LSN || e.LastLSN() <= cks[0].LSN {
		t.Fatalf("repaired bus at LSN %d, want between the checkpoints' LSNs %d and %d", e.LastLSN(), cks[0].LSN, newest.LSN)
	}
	// Repair removed the checkpoint ahead of the state: the next
	// operations reuse its LSNs.
	if fs.Exists(newest.Path) {
		t.Fatalf("checkpoint %s ahead of the repaired state kept", newest.Path)
	}
	// The report says that the commits from the state's next LSN are
	// lost, through the checkpoint's LSN at least: how far past it the
	// log does not say (TestRepairReportsLostLSNs).
	if rep := e.Recovery().Log; rep.LostFirstLSN != e.LastLSN()+1 || rep.LostLastLSN != LostLSNUnknown {
		t.Fatalf("lost LSNs %d..%d, want %d..LostLSNUnknown", rep.LostFirstLSN, rep.LostLastLSN, e.LastLSN()+1)
	}
}
