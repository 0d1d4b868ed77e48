package mmsb

import (
	"errors"
	"testing"
)

// TestDocReplayWithoutLogOnlyCheckpoints: a bus without a log
// (Options.DisableLog) rebuilds through Bus.Replay and ReadPageAt only the
// states its checkpoints hold. Before, Bus.Replay of the last state
// (ReplayTarget{}) answered with its newest checkpoint's state, or with no
// page at all when it had none, as if that were the bus's state; ReadPageAt
// of a committed LSN said it was "past the last LSN 0 the directory holds".
func TestDocReplayWithoutLogOnlyCheckpoints(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		e := openT(t, dir, &Options{DisableLog: true, CheckpointBytes: -1})
		refused := func(what string, tg ReplayTarget) {
			t.Helper()
			r, err := e.Replay(ctx, tg)
			if !errors.Is(err, ErrLogTruncated) {
				n := -1
				if r != nil {
					n = r.Stats().Pages
					r.Close()
				}
				t.Errorf("dir %q: Replay(%s) of a bus without a log at LSN %d = %d page(s), %v; want ErrLogTruncated", dir, what, e.LastLSN(), n, err)
			}
		}
		exact := func(what string, tg ReplayTarget, lsn LSN, pages int) {
			t.Helper()
			r, err := e.Replay(ctx, tg)
			if err != nil {
				t.Errorf("dir %q: Replay(%s) = %v, want the state at LSN %d", dir, what, err, lsn)
				return
			}
			defer r.Close()
			if r.LastLSN() != lsn || r.Stats().Pages != pages {
				t.Errorf("dir %q: Replay(%s) = LSN %d, %d page(s); want LSN %d, %d", dir, what, r.LastLSN(), r.Stats().Pages, lsn, pages)
			}
		}
		exact("empty bus", ReplayTarget{}, 0, 0)
		ids := mustCreate(t, e, 2, 8)
		refused("last, no checkpoint", ReplayTarget{})
		if _, _, err := e.ReadPageAt(ctx, ids[0], e.LastLSN()); !errors.Is(err, ErrLogTruncated) {
			t.Errorf("dir %q: ReadPageAt(last LSN) with no checkpoint = %v, want ErrLogTruncated", dir, err)
		}
		ci, err := e.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		exact("last, a checkpoint there", ReplayTarget{}, ci.LSN, 2)
		exact("the checkpoint's LSN", ReplayTarget{ToLSN: ci.LSN}, ci.LSN, 2)
		refused("before the checkpoint", ReplayTarget{ToLSN: 1})
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{1})}); err != nil {
			t.Fatal(err)
		}
		refused("last, past the checkpoint", ReplayTarget{})
		refused("from empty", ReplayTarget{FromEmpty: true, ToLSN: ci.LSN})
		refused("by time", ReplayTarget{ToTime: 1})
		refused("by page epoch", ReplayTarget{Page: ids[0], Epoch: 1})
		exact("the checkpoint's LSN, later", ReplayTarget{ToLSN: ci.LSN}, ci.LSN, 2)
		exact("from the oldest checkpoint", ReplayTarget{ToLSN: ci.LSN, FromOldestCheckpoint: true}, ci.LSN, 2)
		if got, ep, err := e.ReadPageAt(ctx, ids[0], ci.LSN); err != nil || ep != 0 || len(got) != 8 {
			t.Errorf("dir %q: ReadPageAt(checkpoint LSN %d) = %v, epoch %d, %v", dir, ci.LSN, got, ep, err)
		}
		if _, _, err := e.ReadPageAt(ctx, ids[0], e.LastLSN()); !errors.Is(err, ErrLogTruncated) {
			t.Errorf("dir %q: ReadPageAt(last LSN, past the checkpoint) = %v, want ErrLogTruncated", dir, err)
		}
		if _, err := e.Replay(ctx, ReplayTarget{ToLSN: e.LastLSN() + 1}); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("dir %q: Replay past the last LSN = %v, want ErrInvalidOption", dir, err)
		}
		// A detached replay keeps no log either.
		r, err := e.Replay(ctx, ReplayTarget{ToLSN: ci.LSN})
		if err != nil {
			t.Fatal(err)
		}
		if rr, err := r.Replay(ctx, ReplayTarget{}); !errors.Is(err, ErrLogTruncated) {
			if rr != nil {
				rr.Close()
			}
			t.Errorf("dir %q: Replay of a replayed bus = %v, want ErrLogTruncated", dir, err)
		}
		r.Close()
	}
}
