package mmsb

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// replayFallbackDir builds a bus in /db on a fresh in-memory filesystem:
// two pages, batches of writes in 4 KiB log segments, and a checkpoint
// after each of the first `ckpts` rounds (so that, with two, the second
// prunes the log segments the first covers), and one more round of writes
// when tail. It returns the filesystem, the checkpoints (oldest first) and
// the live state hash at Close.
func replayFallbackDir(t *testing.T, ckpts int, tail bool) (vfs.FS, []CheckpointInfo, uint64) {
	t.Helper()
	ctx := context.Background()
	fs := vfs.NewMem()
	e, err := Open("/db", &Options{FS: fs, SegmentBytes: 4 << 10, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 1024}, {Size: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	var taken []CheckpointInfo
	seq := byte(0)
	rounds := ckpts
	if tail {
		rounds++
	}
	for round := 0; round < rounds; round++ {
		for range 12 { // about 6 KiB of log: at least one rotation a round
			seq++
			var ds []delta.Delta
			for _, id := range ids {
				ds = append(ds, delta.Delta{Page: id, Runs: []delta.Run{{Offset: 0, Data: bytesOf(seq, 256)}}})
			}
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Fatal(err)
			}
		}
		if round < ckpts {
			ck, err := e.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			taken = append(taken, ck)
		}
	}
	hash, err := e.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return fs, taken, hash
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// TestReplayCheckpointFallback: a replay whose starting checkpoint does
// not load either starts from another point that reaches the same state
// (the next usable checkpoint, or LSN 1 while the log holds it) or fails
// with an error wrapping ErrCorruption. It never returns another state.
// Before the fix, a replay from the oldest checkpoint did not fall back to
// the newer one; with an empty log a replay whose only checkpoint did not
// load returned an empty bus and no error; and a replay whose log ended
// before a newer checkpoint that did not load returned the older state.
func TestReplayCheckpointFallback(t *testing.T) {
	ctx := context.Background()
	type setup func(t *testing.T) (fs vfs.FS, want uint64)
	// corruptOldestTrimmed: two checkpoints, the log trimmed past LSN 1,
	// the oldest checkpoint damaged.
	corruptOldestTrimmed := func(t *testing.T) (vfs.FS, uint64) {
		fs, cks, hash := replayFallbackDir(t, 2, true)
		if first, err := firstLogLSN(fs, "/db/wal"); err != nil || first <= 1 {
			t.Fatalf("log starts at LSN %d (%v), want it trimmed past LSN 1", first, err)
		}
		flipByte(t, fs, cks[0].Path, -30)
		return fs, hash
	}
	// corruptOldestFull: one checkpoint, damaged; the log still holds LSN 1.
	corruptOldestFull := func(t *testing.T) (vfs.FS, uint64) {
		fs, cks, hash := replayFallbackDir(t, 1, true)
		if first, err := firstLogLSN(fs, "/db/wal"); err != nil || first != 1 {
			t.Fatalf("log starts at LSN %d (%v), want 1", first, err)
		}
		flipByte(t, fs, cks[0].Path, -30)
		return fs, hash
	}
	// corruptOnlyEmptyLog: the log ends before the checkpoint (its last
	// record torn), so recovery restarts it empty; then the one checkpoint
	// left is damaged. Nothing holds the state any more.
	corruptOnlyEmptyLog := func(t *testing.T) (vfs.FS, uint64) {
		fs, cks, _ := replayFallbackDir(t, 1, false)
		ck := cks[len(cks)-1]
		segs, err := fs.List("/db/wal")
		if err != nil || len(segs) == 0 {
			t.Fatalf("wal: %v %v", segs, err)
		}
		segs = slices.DeleteFunc(segs, func(n string) bool { return !isSegmentName(n) }) // not wal/newest-segment
		last := fs.Join("/db/wal", segs[len(segs)-1])
		data := testutil.ReadFile(t, fs, last)
		writeAll(t, fs, last, data[:len(data)-3]) // the last record, LSN ck.LSN.. torn
		// Repair: the checkpoint proves the cut record durable (damage).
		e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Repair: true})
		if err != nil {
			t.Fatal(err)
		}
		if e.LastLSN() != ck.LSN {
			t.Fatalf("recovered LSN %d, want the checkpoint's %d", e.LastLSN(), ck.LSN)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if first, err := firstLogLSN(fs, "/db/wal"); err != nil || first != 0 {
			t.Fatalf("log starts at LSN %d (%v), want an empty log", first, err)
		}
		flipByte(t, fs, ck.Path, -30)
		return fs, 0
	}
	// corruptNewestLogShort: the newest checkpoint, the last thing done,
	// damaged, and the log's last record, which it covers, torn: the log
	// and the older checkpoint end before committed operations.
	corruptNewestLogShort := func(t *testing.T) (vfs.FS, uint64) {
		fs, cks, _ := replayFallbackDir(t, 2, false)
		segs, err := fs.List("/db/wal")
		if err != nil || len(segs) == 0 {
			t.Fatalf("wal: %v %v", segs, err)
		}
		segs = slices.DeleteFunc(segs, func(n string) bool { return !isSegmentName(n) }) // not wal/newest-segment
		last := fs.Join("/db/wal", segs[len(segs)-1])
		data := testutil.ReadFile(t, fs, last)
		writeAll(t, fs, last, data[:len(data)-3])
		flipByte(t, fs, cks[len(cks)-1].Path, -30)
		return fs, 0
	}
	for _, tc := range []struct {
		name   string
		setup  setup
		target ReplayTarget
	}{
		{"oldest-corrupt-trimmed/oldest", corruptOldestTrimmed, ReplayTarget{FromOldestCheckpoint: true}},
		{"oldest-corrupt-trimmed/newest", corruptOldestTrimmed, ReplayTarget{}},
		{"oldest-corrupt-full-log/oldest", corruptOldestFull, ReplayTarget{FromOldestCheckpoint: true}},
		{"oldest-corrupt-full-log/newest", corruptOldestFull, ReplayTarget{}},
		{"only-corrupt-empty-log/oldest", corruptOnlyEmptyLog, ReplayTarget{FromOldestCheckpoint: true}},
		{"only-corrupt-empty-log/newest", corruptOnlyEmptyLog, ReplayTarget{}},
		{"newest-corrupt-log-short/newest", corruptNewestLogShort, ReplayTarget{}},
		{"newest-corrupt-log-short/oldest", corruptNewestLogShort, ReplayTarget{FromOldestCheckpoint: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, want := tc.setup(t)
			r, err := Replay(ctx, "/db", tc.target, &Options{FS: fs})
			if want == 0 {
				// Nothing can rebuild the state: the replay must say so.
				if err == nil {
					n := r.LastLSN()
					r.Close()
					t.Fatalf("replay succeeded at LSN %d, but no starting point reaches the committed state", n)
				}
				if !errors.Is(err, ErrCorruption) {
					t.Fatalf("error %v: want ErrCorruption", err)
				}
				// Recovery agrees.
				if e, err := Open("/db", &Options{FS: fs}); err == nil || !errors.Is(err, ErrCorruption) {
					if err == nil {
						e.Close()
					}
					t.Fatalf("open: %v, want ErrCorruption", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			defer r.Close()
			got, err := r.StateHash()
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("replayed state hash %x at LSN %d, want %x", got, r.LastLSN(), want)
			}
			// The damaged checkpoint is not the starting point.
			ckpts, _ := checkpoint.List(fs, "/db/checkpoints")
			for _, c := range ckpts {
				if c.Path == r.recovery.Checkpoint && checkpoint.Verify(fs, c.Path) != nil {
					t.Fatalf("replay started from the damaged %s", c.Path)
				}
			}
		})
	}
}

// TestReplayFromEmptyOfEmptyLog: FromEmpty on a bus with no history at all
// replays to the empty state (it said "log starts at LSN 0, not 1"); on a
// directory whose log holds no record beside checkpoints it is
// ErrLogTruncated saying so.
func TestReplayFromEmptyOfEmptyLog(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	e, err := Open("/fresh", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Replay(ctx, ReplayTarget{FromEmpty: true})
	if err != nil {
		t.Fatalf("replay from empty of a bus with no history: %v", err)
	}
	if st := r.Stats(); st.LastLSN != 0 || st.Pages != 0 {
		t.Fatalf("replay of no history: LSN %d, %d pages", st.LastLSN, st.Pages)
	}
	r.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	ckFS, _, _ := replayFallbackDir(t, 1, false)
	segs, err := ckFS.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		if err := ckFS.Remove(ckFS.Join("/db/wal", s)); err != nil {
			t.Fatal(err)
		}
	}
	// Emptied beside checkpoints/log-mode, the log's segments were
	// removed (TestEmptiedLogRefused); without that file (a directory
	// written before it, or `mmsb replay --out`'s before its first Open)
	// the empty log holds nothing past the checkpoint.
	_, err = Replay(ctx, "/db", ReplayTarget{FromEmpty: true}, &Options{FS: ckFS})
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), "holds no log segment") {
		t.Fatalf("replay from empty of an emptied log beside log-mode: %v, want ErrCorruption saying wal/ holds no log segment", err)
	}
	if err := ckFS.Remove("/db/checkpoints/" + tlog.ModeFileName); err != nil {
		t.Fatal(err)
	}
	_, err = Replay(ctx, "/db", ReplayTarget{FromEmpty: true}, &Options{FS: ckFS})
	if !errors.Is(err, ErrLogTruncated) || !strings.Contains(err.Error(), "holds no record") {
		t.Fatalf("replay from empty of an emptied log beside a checkpoint: %v, want ErrLogTruncated saying the log holds no record", err)
	}
}
