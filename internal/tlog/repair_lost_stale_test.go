package tlog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestRepairDoesNotMergeStaleRepairLost: a repair-lost file that is stale
// (a record in the log holds one of its LSNs: the bus committed after the
// Open that reported it, and a crash before the directory's sync brought
// its removal back) is passed over by recovery. A later Repair that cuts
// the log merged it into the file it writes all the same: the file then
// recorded LSNs from the stale one's first on, which the log holds, so
// the Open after a failed second Repair read it as stale too and
// reported nothing of the second cut. The cut's own loss is recorded.
func TestRepairDoesNotMergeStaleRepairLost(t *testing.T) {
	recs := genRecords(1, 30, 100)
	last := recs[len(recs)-1].First + base.LSN(recs[len(recs)-1].Count) - 1
	const bad = 20
	dir := t.TempDir()
	writeLog(t, dir, 0, recs)
	// Stale: the log holds LSNs 5 on.
	if err := os.WriteFile(filepath.Join(dir, RepairLostFileName), encodeRepairLost(5, 8), 0o644); err != nil {
		t.Fatal(err)
	}
	files, offs := recordOffsets(t, dir)
	flipByte(t, files[bad], offs[bad]+5)

	// A Repair that cuts the log and fails before SettleNewest.
	_, rep, l, err := replay(t, Options{FS: vfs.Default, Dir: dir, Repair: true}, 0)
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	l.Close()
	if rep.LostFirstLSN != recs[bad].First || rep.LostLastLSN != last {
		t.Fatalf("Repair: lost %d..%d, want %d..%d", rep.LostFirstLSN, rep.LostLastLSN, recs[bad].First, last)
	}
	if first, lastLost, err := ReadRepairLost(vfs.Default, dir); err != nil || first != recs[bad].First || lastLost != last {
		t.Errorf("repair-lost file after the cut: %d..%d (%v); want %d..%d, the cut's loss without the stale file's LSNs", first, lastLost, err, recs[bad].First, last)
	}
	// The next Open reports the cut.
	_, rep, l, err = replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
	if err != nil {
		t.Fatalf("Open after the cut: %v", err)
	}
	l.Close()
	if rep.LostFirstLSN != recs[bad].First || rep.LostLastLSN != last {
		t.Errorf("Open after a Repair that cut the log (beside a stale repair-lost file) and failed: lost %d..%d, want %d..%d", rep.LostFirstLSN, rep.LostLastLSN, recs[bad].First, last)
	}
}
