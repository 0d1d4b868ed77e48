package validate

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestIntegrityEmptyLogAfterCheckpoint: when recovery with Repair restarts
// a log that ends before the checkpoint (its last record torn), the log is
// empty and the checkpoint alone holds the state. The integrity scan must
// track the state from that checkpoint: tracked from empty, every live
// page was reported as "live but the log never created it". A damaged
// checkpoint must still be reported.
func TestIntegrityEmptyLogAfterCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	populate(t, e, 6, 2)
	ck, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	// Tear the last record, which the checkpoint covers.
	segs := segmentNames(t, fs, busDir+"/wal")
	last := busDir + "/wal/" + segs[len(segs)-1]
	b := testutil.ReadFile(t, fs, last)
	writeFile(t, fs, last, b[:len(b)-3])
	// No crash tears a record the checkpoint proves durable: a plain Open
	// refuses it (TestOpenRefusesTornTailBeforeCheckpoint); Repair cuts it.
	if _, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock()}); !errors.Is(err, mmsb.ErrCorruption) {
		t.Fatalf("Open of a log torn before its checkpoint: %v, want ErrCorruption", err)
	}
	e, err = mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.LastLSN() != ck.LSN || e.Stats().Log.OldestLSN != 0 {
		t.Fatalf("recovered at LSN %d with log from %d, want LSN %d and an empty log", e.LastLSN(), e.Stats().Log.OldestLSN, ck.LSN)
	}
	for _, tg := range []struct {
		name string
		t    Target
	}{{"live", Live(e)}, {"offline", Offline(fs, busDir, nil)}} {
		rep, err := Integrity(ctx, tg.t, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tg.name, err)
		}
		if !rep.OK() {
			t.Fatalf("%s: %d problem(s) on a clean bus: %v", tg.name, rep.Total, rep.Problems)
		}
	}
	// Control: the same directory with the checkpoint damaged is reported.
	e.Close()
	corruptCheckpoint(t, fs, ck.Path)
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(strings.Join(problemTexts(rep), "\n"), ck.Path) {
		t.Fatalf("damaged checkpoint not reported: %v", rep.Problems)
	}
}

func problemTexts(rep Report) []string {
	var out []string
	for _, p := range rep.Problems {
		out = append(out, p.Where+": "+p.What)
	}
	return out
}
