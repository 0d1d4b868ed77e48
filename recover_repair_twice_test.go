package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestSecondRepairReportsFirstRepairsLoss: an Open with Repair cuts the
// log at a damaged record in the middle of its only segment (the commits
// from there to the end given up), then fails before it returns (a
// missing function, the shared region not published:
// openRecoveredHook). The log it left ends cleanly where the cut was, so
// the next Open, with Repair or without, opened there and reported
// nothing lost: the commits went without a word to any caller. The first
// Repair records the LSNs it gives up (wal/repair-lost) before it cuts,
// and the next Open that succeeds reports them, once.
func TestSecondRepairReportsFirstRepairsLoss(t *testing.T) {
	for _, second := range []string{"plain", "Repair"} {
		t.Run(second, func(t *testing.T) {
			mem := vfs.NewMem()
			open := func(o Options) (*Bus, error) {
				o.FS, o.CheckpointBytes, o.Clock = mem, -1, testClock()
				return Open("/db", &o)
			}
			e, err := open(Options{})
			if err != nil {
				t.Fatal(err)
			}
			id := mustCreate(t, e, 1, 64)[0]
			for i := range 40 {
				if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			seg := mem.Join("/db/wal", tlog.SegmentName(1))
			size := int64(len(testutil.ReadFile(t, mem, seg)))
			flipByte(t, mem, seg, size/2)

			errLater := errors.New("a step after recovery failed")
			openRecoveredHook = func() error { return errLater }
			t.Cleanup(func() { openRecoveredHook = nil })
			if e, err := open(Options{Repair: true}); !errors.Is(err, errLater) {
				if err == nil {
					e.Close()
				}
				t.Fatalf("first Repair Open: %v, want it to fail at the hook", err)
			}
			openRecoveredHook = nil
			// Replay reports it as the next Open will.
			if r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: mem}); err != nil {
				t.Fatalf("Replay after the failed Repair: %v", err)
			} else {
				got, rec := r.LastLSN(), r.Recovery().Log
				r.discard()
				if got >= 41 || rec.LostFirstLSN != got+1 || rec.LostLastLSN != 41 {
					t.Errorf("Replay after a Repair that cut the log and failed: LSN %d, lost %d..%d; want lost %d..41", got, rec.LostFirstLSN, rec.LostLastLSN, got+1)
				}
			}
			// QueryLogDir refuses it: the log holds none of the lost
			// operations.
			qerr := QueryLogDir(ctx, mem, "/db", LogQuery{}, func(*LoggedOp) bool { return true })
			if !errors.Is(qerr, ErrCorruption) || !strings.Contains(qerr.Error(), tlog.RepairLostFileName) || !strings.Contains(qerr.Error(), "to LSN 41") {
				t.Errorf("QueryLogDir after a Repair that cut the log and failed: %v; want ErrCorruption naming %s and the LSNs to 41", qerr, tlog.RepairLostFileName)
			}
			if after := int64(len(testutil.ReadFile(t, mem, seg))); after >= size {
				t.Fatalf("the first Repair did not cut the log: %d bytes of %d", after, size)
			}

			e, err = open(Options{Repair: second == "Repair"})
			if err != nil {
				t.Fatalf("second Open (%s): %v", second, err)
			}
			rec, last := e.Recovery().Log, e.LastLSN()
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if last >= 41 || rec.LostFirstLSN != last+1 || rec.LostLastLSN != 41 {
				t.Errorf("second Open (%s) after a Repair that cut the log and failed: LSN %d, lost %d..%d; want lost %d..41 (the first Repair's cut)",
					second, last, rec.LostFirstLSN, rec.LostLastLSN, last+1)
			}

			e, err = open(Options{})
			if err != nil {
				t.Fatalf("third Open: %v", err)
			}
			defer e.Close()
			if rec := e.Recovery().Log; rec.LostFirstLSN != 0 || e.LastLSN() != last {
				t.Errorf("third Open: LSN %d, %+v; want LSN %d, nothing lost (reported once)", e.LastLSN(), rec, last)
			}
		})
	}
}
