package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestRepairLostKeepsKnownEndPastRemovedSegments: an Open with Repair cut
// the log at a damaged record in the segment after the checkpoint (LSN 2),
// removed it and the segments after it (counting their records: the loss ends at LSN 30, recorded in
// wal/repair-lost) and failed before it rewrote wal/newest-segment. The
// next Open with Repair found the newest segment missing, a loss "from
// the log's end on, its end unknown", and merged it with the file's:
// LostLastLSN was LostLSNUnknown, where the file said 30. The segments
// the newest-segment file names were the ones the recorded cut removed,
// so the recorded end is the real one; Replay and a DisableLog Open with
// Repair report it alike.
func TestRepairLostKeepsKnownEndPastRemovedSegments(t *testing.T) {
	const commits = 30
	build := func(t *testing.T) (vfs.FS, func(o Options) (*Bus, error)) {
		mem := vfs.NewMem()
		open := func(o Options) (*Bus, error) {
			o.FS, o.CheckpointBytes, o.SegmentBytes, o.Clock = mem, -1, 4096, testClock()
			return Open("/db", &o)
		}
		e, err := open(Options{})
		if err != nil {
			t.Fatal(err)
		}
		id := mustCreate(t, e, 1, 4096)[0]
		if _, err := e.Commit(ctx, []Delta{Write(id, 0, make([]byte, 4096))}); err != nil {
			t.Fatal(err)
		}
		if info, err := e.Checkpoint(ctx); err != nil || info.LSN != 2 {
			t.Fatalf("checkpoint at LSN %d (%v), want 2", info.LSN, err)
		}
		for i := range commits - 2 {
			if _, err := e.Commit(ctx, []Delta{Write(id, 0, make([]byte, 600+i))}); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if newest, err := tlog.ReadNewest(mem, "/db/wal"); err != nil || newest <= 1 {
			t.Fatalf("the log did not rotate: newest-segment %d (%v)", newest, err)
		}
		seg := mem.Join("/db/wal", tlog.SegmentName(3))
		flipByte(t, mem, seg, tlog.SegmentHeaderSize+300)

		errLater := errors.New("a step after recovery failed")
		openRecoveredHook = func() error { return errLater }
		defer func() { openRecoveredHook = nil }()
		if e, err := open(Options{Repair: true}); !errors.Is(err, errLater) {
			if err == nil {
				e.Close()
			}
			t.Fatalf("first Repair Open: %v, want it to fail at the hook", err)
		}
		if first, last, err := tlog.ReadRepairLost(mem, "/db/wal"); err != nil || first != 3 || last != commits {
			t.Fatalf("wal/repair-lost after the cut: %d..%d (%v), want 3..%d", first, last, err, commits)
		}
		return mem, open
	}
	check := func(t *testing.T, what string, last LSN, rec LogRecovery) {
		t.Helper()
		if rec.LostFirstLSN != last+1 || rec.LostLastLSN != commits {
			t.Errorf("%s after a Repair that cut the log and failed: LSN %d, lost %d..%d; want lost %d..%d (the end wal/repair-lost records)",
				what, last, rec.LostFirstLSN, rec.LostLastLSN, last+1, commits)
		}
	}
	t.Run("Open", func(t *testing.T) {
		_, open := build(t)
		e, err := open(Options{Repair: true})
		if err != nil {
			t.Fatalf("second Repair Open: %v", err)
		}
		defer e.Close()
		check(t, "second Repair Open", e.LastLSN(), e.Recovery().Log)
	})
	t.Run("Replay", func(t *testing.T) {
		mem, _ := build(t)
		r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: mem, Repair: true})
		if err != nil {
			t.Fatalf("Replay: %v", err)
		}
		defer r.discard()
		check(t, "Replay", r.LastLSN(), r.Recovery().Log)
	})
	t.Run("DisableLog", func(t *testing.T) {
		_, open := build(t)
		e, err := open(Options{Repair: true, DisableLog: true})
		if err != nil {
			t.Fatalf("DisableLog Open with Repair: %v", err)
		}
		defer e.Close()
		check(t, "DisableLog Open with Repair", e.LastLSN(), e.Recovery().Log)
	})
}
