package mmsb

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestDisableLogReportsRepairLost: an Open with Repair cut the log's
// newest segment (cut to nothing: the commits after the checkpoint given
// up, their end unknown) and failed after, leaving wal/repair-lost. A
// DisableLog Open then opened at the checkpoint and reported nothing
// lost, and left the file: its bus committed over the lost LSNs and
// checkpointed, and the next Open with a log, finding no segment to call
// the file stale, reported the LSNs past that checkpoint lost, which
// nothing had lost. The DisableLog Open reports the file's loss as an
// Open with the log does and removes it once it can no longer fail. A
// file a crash brings back after that is stale, the checkpoint holding
// its first LSN: Open (with no segment to say so), Replay and QueryLogDir
// pass it over.
func TestDisableLogReportsRepairLost(t *testing.T) {
	dir := t.TempDir()
	ckpt, _, seg := buildRotatedLog(t, dir)
	if err := os.Truncate(seg, 0); err != nil {
		t.Fatal(err)
	}
	errLater := errors.New("a step after recovery failed")
	openRecoveredHook = func() error { return errLater }
	t.Cleanup(func() { openRecoveredHook = nil })
	if e, err := Open(dir, &Options{CheckpointBytes: -1, Repair: true}); !errors.Is(err, errLater) {
		if err == nil {
			e.Close()
		}
		t.Fatalf("Repair Open: %v, want it to fail at the hook", err)
	}
	openRecoveredHook = nil
	repairLost := filepath.Join(dir, "wal", tlog.RepairLostFileName)
	saved, err := os.ReadFile(repairLost)
	if err != nil {
		t.Fatalf("the failed Repair left no %s: %v", tlog.RepairLostFileName, err)
	}

	e, err := Open(dir, &Options{CheckpointBytes: -1, DisableLog: true})
	if err != nil {
		t.Fatalf("DisableLog Open: %v", err)
	}
	if rec := e.Recovery().Log; e.LastLSN() != ckpt || rec.LostFirstLSN != ckpt+1 || rec.LostLastLSN != LostLSNUnknown {
		t.Errorf("DisableLog Open after a Repair that cut the log and failed: LSN %d, lost %d..%d; want LSN %d, lost %d..LostLSNUnknown",
			e.LastLSN(), rec.LostFirstLSN, rec.LostLastLSN, ckpt, ckpt+1)
	}
	for i := range 5 {
		if _, err := e.Commit(ctx, []Delta{Write(1, uint32(i), []byte{9})}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	last := e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(repairLost); !os.IsNotExist(err) {
		t.Errorf("%s after the DisableLog Open that reported it: %v; want it removed", tlog.RepairLostFileName, err)
	}
	// A crash after the removal, before wal/'s sync, brings the file
	// back: stale, the checkpoint holding its first LSN. Open, Replay and
	// QueryLogDir pass it over: no record of the log holds one of its
	// LSNs (the log holds no segment here), but the checkpoint does.
	if err := os.WriteFile(repairLost, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err = Open(dir, &Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatalf("Open with the log after: %v", err)
	}
	rec := e.Recovery().Log
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e.LastLSN() != last || rec.LostFirstLSN != 0 {
		t.Errorf("Open with the log (beside a stale %s) after the DisableLog bus committed to LSN %d: LSN %d, lost %d..%d; want nothing lost", tlog.RepairLostFileName,
			last, e.LastLSN(), rec.LostFirstLSN, rec.LostLastLSN)
	}
	// Back again, beside the empty segment that Open made.
	if err := os.WriteFile(repairLost, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := Replay(ctx, dir, ReplayTarget{}, nil); err != nil {
		t.Errorf("Replay beside a stale %s: %v", tlog.RepairLostFileName, err)
	} else {
		rec := r.Recovery().Log
		r.discard()
		if rec.LostFirstLSN != 0 {
			t.Errorf("Replay beside a stale %s: lost %d..%d; want nothing", tlog.RepairLostFileName, rec.LostFirstLSN, rec.LostLastLSN)
		}
	}
	if err := QueryLogDir(ctx, vfs.Default, dir, LogQuery{}, func(*LoggedOp) bool { return true }); err != nil {
		t.Errorf("QueryLogDir beside a stale %s: %v; want it answered", tlog.RepairLostFileName, err)
	}

	e, err = Open(dir, &Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatalf("Open beside a stale %s: %v", tlog.RepairLostFileName, err)
	}
	defer e.Close()
	if rec := e.Recovery().Log; e.LastLSN() != last || rec.LostFirstLSN != 0 {
		t.Errorf("Open beside a stale %s: LSN %d, lost %d..%d; want LSN %d, nothing lost", tlog.RepairLostFileName, e.LastLSN(), rec.LostFirstLSN, rec.LostLastLSN, last)
	}
}
