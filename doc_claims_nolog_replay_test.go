package mmsb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// TestReplayWithoutLogDamagedCheckpoint: on a bus without a log, Replay and
// ReadPageAt of the LSN of a checkpoint that does not load are
// ErrCorruption naming its file, not ErrLogTruncated: the state is held,
// and damaged. Before, the replay passed over the damaged checkpoint,
// loaded the older one and answered that no checkpoint held the LSN ("the
// newest at or before it holds LSN 1"), with no word of the damage. An
// LSN no checkpoint holds stays ErrLogTruncated and not ErrCorruption,
// even below a newer checkpoint.
func TestReplayWithoutLogDamagedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, &Options{DisableLog: true, CheckpointBytes: -1})
	ids := mustCreate(t, e, 1, 8)
	older, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{byte(i + 1)})}); err != nil {
			t.Fatal(err)
		}
	}
	newer, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	between := older.LSN + 1 // no checkpoint holds it; a newer one follows
	if r, err := e.Replay(ctx, ReplayTarget{ToLSN: between}); !errors.Is(err, ErrLogTruncated) || errors.Is(err, ErrCorruption) {
		if r != nil {
			r.Close()
		}
		t.Errorf("Replay(LSN %d, between checkpoints %d and %d) = %v; want ErrLogTruncated, not ErrCorruption", between, older.LSN, newer.LSN, err)
	}
	// Cut the newer checkpoint's file in half: it no longer loads.
	b, err := os.ReadFile(newer.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newer.Path, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := e.Replay(ctx, ReplayTarget{ToLSN: newer.LSN})
	if !errors.Is(err, ErrCorruption) || errors.Is(err, ErrLogTruncated) || !strings.Contains(fmt.Sprint(err), filepath.Base(newer.Path)) {
		if r != nil {
			r.Close()
		}
		t.Errorf("Replay(LSN %d) with its checkpoint damaged = %v; want ErrCorruption naming %s", newer.LSN, err, newer.Path)
	}
	if _, _, err := e.ReadPageAt(ctx, ids[0], newer.LSN); !errors.Is(err, ErrCorruption) {
		t.Errorf("ReadPageAt(LSN %d) with its checkpoint damaged = %v; want ErrCorruption", newer.LSN, err)
	}
	// The older checkpoint still answers for its own LSN.
	r, err = e.Replay(ctx, ReplayTarget{ToLSN: older.LSN})
	if err != nil {
		t.Fatalf("Replay(LSN %d, the older checkpoint's) = %v", older.LSN, err)
	}
	defer r.Close()
	if r.LastLSN() != older.LSN || r.Recovery().CheckpointLSN != older.LSN {
		t.Errorf("Replay(LSN %d) = LSN %d from the checkpoint at LSN %d", older.LSN, r.LastLSN(), r.Recovery().CheckpointLSN)
	}
}

// TestVerifyReplayWithoutLogInvalidOption: VerifyReplay on a bus without a
// log (Options.DisableLog, and a bus Replay returned) is ErrInvalidOption,
// not ErrLogTruncated (which validators count as a failed verification),
// and the error names DisableLog, as the bus's other refusals do. Before,
// it said only "bus runs without a log".
func TestVerifyReplayWithoutLogInvalidOption(t *testing.T) {
	e := openT(t, "", &Options{DisableLog: true, CheckpointBytes: -1})
	mustCreate(t, e, 1, 8)
	ci, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Replay(ctx, ReplayTarget{ToLSN: ci.LSN})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range []struct {
		name string
		b    *Bus
	}{{"DisableLog", e}, {"replayed", r}} {
		name, b := c.name, c.b
		if !b.Stats().NoLog {
			t.Errorf("%s bus: Stats().NoLog false", name)
		}
		for _, fromNewest := range []bool{false, true} {
			_, err := b.VerifyReplay(ctx, fromNewest)
			if !errors.Is(err, ErrInvalidOption) || errors.Is(err, ErrLogTruncated) || !strings.Contains(fmt.Sprint(err), "Options.DisableLog") {
				t.Errorf("%s bus: VerifyReplay(fromNewest %v) = %v; want ErrInvalidOption naming Options.DisableLog", name, fromNewest, err)
			}
		}
	}
}

// TestQueryLogDirWrittenWithoutLog: QueryLogDir of a directory written by a
// bus without a log is ErrLogTruncated, as Bus.QueryLog of that bus is.
// Before, its empty wal/ answered no operation and nil, as if nothing had
// been committed, though its checkpoint holds two creations.
func TestQueryLogDirWrittenWithoutLog(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, &Options{DisableLog: true, CheckpointBytes: -1})
	mustCreate(t, e, 2, 8)
	ci, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fs := e.FS()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for _, q := range []LogQuery{{}, {FromLSN: 1}, {FromLSN: ci.LSN, ToLSN: ci.LSN}} {
		n := 0
		err := QueryLogDir(ctx, fs, dir, q, func(*LoggedOp) bool { n++; return true })
		if !errors.Is(err, ErrLogTruncated) || !strings.Contains(fmt.Sprint(err), "Options.DisableLog") {
			t.Errorf("QueryLogDir(%+v) of a directory without a log (checkpoint at LSN %d) = %d operation(s), %v; want ErrLogTruncated naming Options.DisableLog", q, ci.LSN, n, err)
		}
	}
}
