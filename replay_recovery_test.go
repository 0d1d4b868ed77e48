package mmsb

import (
	"strings"
	"testing"
)

// TestReplayRecoverySaysWhereItStarted: a bus that Replay returns says in
// Recovery which checkpoint the replay started from and which it passed
// over because they did not load. It said nothing (Recovery was empty), so
// a caller comparing a replay "from the newest checkpoint" with one from
// the oldest could not tell that both had started from the same state: an
// unloadable newest checkpoint made the comparison one of a replay with
// itself (internal/validate copied and loaded every checkpoint to find
// out). Undamaged, the replay starts from the newest and skips none.
func TestReplayRecoverySaysWhereItStarted(t *testing.T) {
	fs, ckpts := busWithTwoCheckpoints(t)
	replayed := func() Recovery {
		t.Helper()
		b, err := Replay(ctx, "bus", ReplayTarget{}, &Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		return b.Recovery()
	}
	if r := replayed(); r.Checkpoint != ckpts[0].Path || r.CheckpointLSN != ckpts[0].LSN || len(r.SkippedCheckpoint) != 0 {
		t.Fatalf("undamaged: Recovery %+v; want it to start from %s (LSN %d), none skipped", r, ckpts[0].Path, ckpts[0].LSN)
	}
	f, err := fs.OpenAppend(ckpts[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte{0}) // bytes after the trailer: the loader refuses it
	_ = f.Close()
	r := replayed()
	if r.Checkpoint != ckpts[1].Path || r.CheckpointLSN != ckpts[1].LSN {
		t.Fatalf("newest damaged: the replay started from %q (LSN %d); want %s (LSN %d)", r.Checkpoint, r.CheckpointLSN, ckpts[1].Path, ckpts[1].LSN)
	}
	if len(r.SkippedCheckpoint) != 1 || !strings.Contains(r.SkippedCheckpoint[0], ckpts[0].Path) {
		t.Fatalf("newest damaged: SkippedCheckpoint %q; want one entry naming %s", r.SkippedCheckpoint, ckpts[0].Path)
	}
}
