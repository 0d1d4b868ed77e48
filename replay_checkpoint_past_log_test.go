package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestReplayRefusesCheckpointPastLogEnd: a checkpoint of another bus,
// at an LSN past the end of this bus's log, copied into its
// checkpoints/ (a restore into the wrong directory), was presented by
// mmsb.Replay (so `mmsb inspect`, `mmsb read`, `mmsb replay --out`) as
// this bus's state, exit 0, while Open refused the same directory ("the
// log ... ends at LSN ..., before checkpoint ... belongs to another
// bus"). Replay now refuses it by Open's rule (logEndsBeforeCheckpoint):
// ErrCorruption naming the checkpoint; with Repair it opens at the
// checkpoint, as Open with Repair does. The control replays the bus with
// its own checkpoints only.
func TestReplayRefusesCheckpointPastLogEnd(t *testing.T) {
	fs := vfs.NewMem()
	build := func(dir string, n int) string {
		t.Helper()
		e, err := Open(dir, &Options{FS: fs, CheckpointBytes: -1, Clock: testClock()})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		id := mustCreate(t, e, 1, 16)[0]
		for i := range n {
			if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i%16), []byte{byte(n)})}); err != nil {
				t.Fatal(err)
			}
		}
		info, err := e.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.Path
	}
	build("/counters", 8)
	other := build("/other", 40)

	// Control: the bus with its own checkpoint replays.
	r, err := Replay(ctx, "/counters", ReplayTarget{}, &Options{FS: fs})
	if err != nil {
		t.Fatalf("control: Replay of the bus with its own checkpoint: %v", err)
	}
	own := r.LastLSN()
	r.discard()

	to := fs.Join("/counters", "checkpoints", other[strings.LastIndex(other, "/")+1:])
	f, err := fs.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(testutil.ReadFile(t, fs, other)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	if e, err := Open("/counters", &Options{FS: fs, CheckpointBytes: -1}); err == nil {
		e.Close()
		t.Fatal("Open with another bus's checkpoint past the log's end: opened")
	}
	for _, target := range []ReplayTarget{{}, {ToLSN: 40 + 1}} {
		r, err := Replay(ctx, "/counters", target, &Options{FS: fs})
		if err == nil {
			got := r.LastLSN()
			r.discard()
			t.Fatalf("Replay %+v with another bus's checkpoint (LSN past the log's end, %d): state at LSN %d, want ErrCorruption", target, own, got)
		}
		if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), to) || !strings.Contains(err.Error(), "no damaged record was cut") {
			t.Errorf("Replay %+v: %v, want ErrCorruption naming %s as Open does", target, err, to)
		}
	}
	// Replay to the bus's own LSN passes the other checkpoint by.
	if r, err := Replay(ctx, "/counters", ReplayTarget{ToLSN: own}, &Options{FS: fs}); err != nil {
		t.Errorf("Replay to LSN %d (before the other checkpoint): %v", own, err)
	} else {
		r.discard()
	}
	// Repair accepts it and reports what the log lacked lost, as Open
	// with Repair does.
	if r, err := Replay(ctx, "/counters", ReplayTarget{}, &Options{FS: fs, Repair: true}); err != nil {
		t.Errorf("Replay with Repair: %v", err)
	} else {
		at, rec := r.LastLSN(), r.Recovery().Log
		r.discard()
		if rec.LostFirstLSN != at+1 || rec.LostLastLSN != LostLSNUnknown {
			t.Errorf("Replay with Repair: at LSN %d, lost %d..%d; want lost %d..LostLSNUnknown", at, rec.LostFirstLSN, rec.LostLastLSN, at+1)
		}
	}
}
