package validate

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestIntegrityBusWithoutLog: a live bus that keeps no log has no history
// to check its state against (nor to replay: the replay validator failed
// with VerifyReplay's ErrInvalidOption; it is not-compared too, and is
// checked here beside integrity). The scan read the directory's log anyway
// (none, or an empty wal/) and reported every live page as never created,
// or, from the bus's last checkpoint, an epoch problem for every page
// written since; an empty bus passed. The report is not-compared now,
// saying the bus keeps no log, with no problem. The control is the same
// work on a bus with a log, which passes.
func TestIntegrityBusWithoutLog(t *testing.T) {
	// work creates a page, writes it, checkpoints when asked and writes it
	// again: with a checkpoint, the page's epoch in it is older than the
	// live one.
	work := func(t *testing.T, e *mmsb.Bus, checkpointed bool) {
		t.Helper()
		ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			if _, err := e.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], uint32(i), []byte{byte(i + 1)})}); err != nil {
				t.Fatal(err)
			}
			if i == 1 && checkpointed {
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, tc := range []struct {
		name         string
		dir          string // "": in memory
		disableLog   bool
		checkpointed bool
		empty        bool
	}{
		{name: "in memory without a log", disableLog: true},
		{name: "in memory without a log, empty", disableLog: true, empty: true},
		{name: "directory without a log, checkpointed", dir: busDir, disableLog: true, checkpointed: true},
		{name: "directory with a log (control)", dir: busDir, checkpointed: true},
		{name: "in memory with a log (control)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := mmsb.Open(tc.dir, &mmsb.Options{FS: vfs.NewMem(), Clock: testClock(), DisableLog: tc.disableLog, CheckpointBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if !tc.empty {
				work(t, e, tc.checkpointed)
			}
			for _, v := range []struct {
				name string
				fn   func(context.Context, Target, Options) (Report, error)
			}{{"integrity", Integrity}, {"replay", Replay}} {
				rep, err := v.fn(ctx, Live(e), Options{})
				if err != nil {
					t.Fatalf("%s: %v", v.name, err)
				}
				if !tc.disableLog {
					requireOK(t, rep, err)
					continue
				}
				if rep.Total != 0 || rep.Outcome() != OutcomeNotCompared || !errors.Is(rep.Err(), ErrNotCompared) {
					t.Fatalf("%s: outcome %s, %d problem(s) %v, want not-compared with none", v.name, rep.Outcome(), rep.Total, rep.Problems)
				}
				if !strings.Contains(rep.NotCompared, "keeps no log") {
					t.Fatalf("%s: NotCompared %q, want it to say the bus keeps no log", v.name, rep.NotCompared)
				}
			}
		})
	}
}

// TestIntegrityCatchesRemovedLogDir: offline, a directory whose wal/ was
// removed (with every operation after its newest checkpoint) was scanned
// as an empty log and passed, the state tracked from the checkpoint. It is
// an lsn problem naming wal/ now. The control: the intact directory
// passes. The same one with wal/ made again empty (rm DIR/wal/*) passed as
// the loss accepted until checkpoints/log-mode; it is an emptied log now,
// reported as Open and mmsb.Replay refuse it (tlog.CheckRemoved).
func TestIntegrityCatchesRemovedLogDir(t *testing.T) {
	for _, tc := range []struct {
		name           string
		remove, remake bool
	}{
		{name: "intact (control)"},
		{name: "wal removed", remove: true},
		{name: "wal removed and made again empty", remove: true, remake: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e := openBus(t, fs, nil)
			populate(t, e, 6, 2)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			wal := busDir + "/wal"
			if tc.remove {
				names, err := fs.List(wal)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range names {
					if err := fs.Remove(wal + "/" + n); err != nil {
						t.Fatal(err)
					}
				}
				if err := fs.Remove(wal); err != nil {
					t.Fatal(err)
				}
			}
			if tc.remake {
				if err := fs.MkdirAll(wal); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
			if tc.remove && !tc.remake {
				p := requireKind(t, rep, err, "no log directory", KindLSN, 0)
				if p.Where != wal {
					t.Fatalf("problem at %q, want %q", p.Where, wal)
				}
				return
			}
			if tc.remake {
				p := requireKind(t, rep, err, "holds no log segment", KindLSN, 0)
				if p.Where != wal {
					t.Fatalf("problem at %q, want %q", p.Where, wal)
				}
				return
			}
			requireOK(t, rep, err)
		})
	}
}
