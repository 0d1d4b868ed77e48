package validate

import (
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestReplayOfflineOldestCheckpointUnusable: offline, with the log trimmed
// past LSN 1 and the oldest of two checkpoints damaged, the first replay
// starts from the oldest usable checkpoint, which is also the newest: both
// replays start from the same state, so the validator must say "not
// compared" rather than count a replay compared with itself as a pass.
func TestReplayOfflineOldestCheckpointUnusable(t *testing.T) {
	fs := vfs.NewMem()
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), SegmentBytes: 4 << 10, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	var cks []mmsb.CheckpointInfo
	for round := range 3 {
		for i := range 12 {
			data := make([]byte, 512)
			data[0] = byte(round*12 + i)
			if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Offset: 0, Data: data}}}}); err != nil {
				t.Fatal(err)
			}
		}
		if round < 2 {
			ck, err := e.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cks = append(cks, ck)
		}
	}
	if st := e.Stats(); st.Log.OldestLSN <= 1 {
		t.Fatalf("log starts at LSN %d, want it trimmed past LSN 1", st.Log.OldestLSN)
	}
	e.Close()
	corruptCheckpoint(t, fs, cks[0].Path)
	rep, err := Replay(ctx, Offline(fs, busDir, nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := rep.Figure("comparisons"); v != 0 || rep.Outcome() != OutcomeNotCompared {
		t.Fatalf("comparisons = %v, outcome %q (problems %v, notes %v): want not compared", v, rep.Outcome(), rep.Problems, rep.Notes)
	}
}
