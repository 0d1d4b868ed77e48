package mmsb

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// logFlushers counts the goroutines running a log's background flusher
// (tlog.Log.Close waits for its flusher to end, so the count is exact).
func logFlushers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "tlog.(*Log).flusher(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestFailedOpenClosesLog pins issue 7 item 8 (leak on a failed Open):
// when Open fails after it has opened the log (here: the only checkpoint is
// damaged and the log no longer reaches back to LSN 1), the log and its
// group-commit flusher goroutine used to stay behind. Open now closes them.
func TestFailedOpenClosesLog(t *testing.T) {
	fs := vfs.NewMem()
	e := openT(t, "/db", &Options{FS: fs, Clock: testClock(), CheckpointBytes: -1})
	id, err := e.CreatePage(ctx, PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	info, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Damage the checkpoint and drop the log it covers.
	names, err := fs.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := fs.Remove(fs.Join("/db/wal", n)); err != nil {
			t.Fatal(err)
		}
	}
	data := testutil.ReadFile(t, fs, info.Path)
	data[len(data)/2] ^= 0xff
	writeAll(t, fs, info.Path, data)

	before := logFlushers()
	for i := 0; i < 3; i++ {
		if _, err := Open("/db", &Options{FS: fs}); !errors.Is(err, ErrCorruption) {
			t.Fatalf("Open with its only checkpoint damaged and no log: %v, want ErrCorruption", err)
		}
	}
	if after := logFlushers(); after != before {
		t.Fatalf("%d log flusher goroutines before three failed Opens, %d after: the log was left open", before, after)
	}
	// The directory is released too: a later Open gets the same error, not ErrLocked.
	if _, err := Open("/db", &Options{FS: fs}); errors.Is(err, ErrLocked) {
		t.Fatal("a failed Open kept the directory lock")
	}
}

// TestCheckpointFailuresCountedAndBounded pins issue 7 item 8 (dropped
// automatic checkpoint failures): a failing automatic checkpoint is counted
// in Stats with its error, retried only after another CheckpointBytes of log
// (not at every commit), and once the log has grown by its bound since the
// last successful checkpoint, writes are refused with ErrCheckpointFailing
// (not sticky, the bus is not failed) until a retry succeeds. The old code
// dropped the error, counted nothing and let the log grow without bound.
func TestCheckpointFailuresCountedAndBounded(t *testing.T) {
	const per = 8 << 10 // CheckpointBytes
	tog := errorfs.NewToggle(errorfs.OnPath("checkpoints", errorfs.OnKind(errorfs.OpCreate, errorfs.ErrInjected)))
	fs := errorfs.Wrap(vfs.NewMem(), tog)
	e := openT(t, "/db", &Options{FS: fs, Clock: testClock(), CheckpointBytes: per})
	id, err := e.CreatePage(ctx, PageSpec{Size: 1024})
	if err != nil {
		t.Fatal(err)
	}
	logBytes := func() uint64 { return e.Stats().Log.Bytes }
	start := logBytes()
	tog.On()
	var refused error
	commits := 0
	for ; commits < 1000 && refused == nil; commits++ {
		_, refused = e.Commit(ctx, []Delta{Write(id, 0, make([]byte, 1024))})
		e.ckptWG.Wait() // let the automatic checkpoint this commit started end
	}
	grown := logBytes() - start
	st := e.Stats()
	if st.CheckpointFailures == 0 || !errors.Is(st.LastCheckpointErr, errorfs.ErrInjected) || st.CheckpointFailStreak != st.CheckpointFailures {
		t.Fatalf("after %d commits and %d log bytes with checkpoints failing: Stats %d failures (streak %d), last error %v",
			commits, grown, st.CheckpointFailures, st.CheckpointFailStreak, st.LastCheckpointErr)
	}
	// Retried once per CheckpointBytes of log, not at every commit.
	if limit := grown/per + 1; st.CheckpointFailures > limit {
		t.Fatalf("%d checkpoint attempts for %d log bytes: retried more often than every %d bytes", st.CheckpointFailures, grown, per)
	}
	if !errors.Is(refused, ErrCheckpointFailing) || !errors.Is(refused, errorfs.ErrInjected) {
		t.Fatalf("after %d commits (%d log bytes) the log still grows: last commit %v, want ErrCheckpointFailing wrapping the cause", commits, grown, refused)
	}
	if grown > checkpointStallFactor*per+2048 {
		t.Fatalf("writes refused only after %d log bytes, bound %d", grown, checkpointStallFactor*per)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("refusing writes failed the bus: %v", err)
	}
	if _, _, err := e.ReadPage(id, nil); err != nil {
		t.Fatalf("reads stopped: %v", err)
	}
	// The fault clears: the next refused write starts a retry, which
	// succeeds and lifts the refusal.
	tog.Off()
	if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte{1})}); !errors.Is(err, ErrCheckpointFailing) {
		t.Fatalf("commit before the retry: %v", err)
	}
	e.ckptWG.Wait()
	if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte{2})}); err != nil {
		t.Fatalf("commit after a successful retry: %v", err)
	}
	if st2 := e.Stats(); st2.CheckpointFailStreak != 0 || st2.Checkpoints == 0 || st2.CheckpointFailures != st.CheckpointFailures || st2.LastCheckpointErr == nil {
		t.Fatalf("after the retry: %d checkpoints, %d failures (streak %d), last error %v",
			st2.Checkpoints, st2.CheckpointFailures, st2.CheckpointFailStreak, st2.LastCheckpointErr)
	}
}
