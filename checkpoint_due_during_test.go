package mmsb

import (
	"context"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCheckpointDueCountsLogWrittenDuring: the next automatic checkpoint is
// due once the log has grown CheckpointBytes past what the last one covers,
// the log written while that one ran included. The log's size when a
// checkpoint ended was kept as its mark, so a checkpoint that ran while
// several CheckpointBytes of log were written was followed by none until
// another whole CheckpointBytes had been written after it ended: the log
// past the newest checkpoint grew to a checkpoint's duration of commits
// plus CheckpointBytes (an operator saw checkpoints 10 × CheckpointBytes
// apart, and up to 56 segments of 64 KiB with CheckpointBytes 256 KiB).
// The first checkpoint is held after its snapshot while the test commits
// four CheckpointBytes of log; one small commit after it ends starts the
// next, which leaves at most two segments past the newest checkpoint.
func TestCheckpointDueCountsLogWrittenDuring(t *testing.T) {
	const per, seg = 4 << 10, 1 << 10
	ctx := context.Background()
	e := openT(t, "/db", &Options{FS: vfs.NewMem(), Sync: SyncAlways, SegmentBytes: seg, CheckpointBytes: per, CheckpointWriteRate: -1})
	defer e.Close()
	ids := mustCreate(t, e, 1, 256)
	held, release := make(chan struct{}), make(chan struct{})
	first := true
	e.ckptAfterStep1 = func() { // on the checkpoint's goroutine, one at a time
		if first {
			first = false
			close(held)
			<-release
		}
	}
	payload := strings.Repeat("x", 200)
	commit := func() {
		t.Helper()
		if _, err := e.Commit(ctx, []Delta{w(ids[0], 0, payload)}); err != nil {
			t.Fatal(err)
		}
	}
	// Until a commit starts the first automatic checkpoint (CheckpointRunning
	// turns true in that commit), then until it has its snapshot.
	for !e.CheckpointRunning() {
		if e.Stats().Log.Bytes > 4*per {
			t.Fatalf("no automatic checkpoint after %d bytes of log (CheckpointBytes %d)", e.Stats().Log.Bytes, per)
		}
		commit()
	}
	testutil.Recv(t, held, "the first automatic checkpoint's snapshot")
	from := e.Stats().Log.Bytes
	for e.Stats().Log.Bytes-from < 4*per {
		commit()
	}
	close(release)
	testutil.Wait(t, &e.ckptWG, "the first automatic checkpoint")
	if n := e.Stats().Checkpoints; n != 1 {
		t.Fatalf("%d checkpoints after the first ended, want 1", n)
	}
	commit() // the log is 4 × CheckpointBytes past the first checkpoint's snapshot
	testutil.Wait(t, &e.ckptWG, "the checkpoint the commit after the first started")
	st := e.Stats()
	if st.Checkpoints != 2 {
		t.Fatalf("%d checkpoints: a commit with the log %d bytes past the first checkpoint's snapshot (CheckpointBytes %d) started none", st.Checkpoints, st.Log.Bytes-from, per)
	}
	// Segments past the newest checkpoint: those whose first LSN is above it.
	names, err := e.FS().List(e.walDir())
	if err != nil {
		t.Fatal(err)
	}
	newest := st.LastCheckpoint
	past := 0
	for _, n := range names {
		if strings.HasSuffix(n, ".log") && len(n) == len(tlog.SegmentName(newest)) && n > tlog.SegmentName(newest) {
			past++
		}
	}
	if past > 2 {
		t.Fatalf("%d segments of %d bytes past the newest checkpoint (LSN %d; CheckpointBytes %d): %v", past, seg, newest, per, names)
	}
}
