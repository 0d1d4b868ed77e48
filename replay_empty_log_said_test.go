package mmsb

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestReplayOfEmptyLogSaysNoRecord: a replay with no checkpoint that
// loads and a log that holds no record (recovery restarted it empty
// after its torn last record; then the one checkpoint was damaged) says
// the log holds no record. It said "the log starts at LSN 0 (0: empty)".
func TestReplayOfEmptyLogSaysNoRecord(t *testing.T) {
	fs, cks, _ := replayFallbackDir(t, 1, false)
	ck := cks[len(cks)-1]
	segs, err := fs.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	segs = slices.DeleteFunc(segs, func(n string) bool { return !isSegmentName(n) })
	if len(segs) == 0 {
		t.Fatal("wal/ holds no segment")
	}
	last := fs.Join("/db/wal", segs[len(segs)-1])
	data := testutil.ReadFile(t, fs, last)
	writeAll(t, fs, last, data[:len(data)-3]) // the last record torn
	// Repair: the checkpoint proves the cut record durable (damage).
	e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if first, err := firstLogLSN(fs, "/db/wal"); err != nil || first != 0 {
		t.Fatalf("log starts at LSN %d (%v), want an empty log", first, err)
	}
	flipByte(t, fs, ck.Path, -30)
	_, err = Replay(context.Background(), "/db", ReplayTarget{}, &Options{FS: fs})
	if !errors.Is(err, ErrLogTruncated) || !strings.Contains(err.Error(), "and the log holds no record: ") || strings.Contains(err.Error(), "LSN 0") {
		t.Fatalf("replay with no loadable checkpoint and an empty log: %v; want ErrLogTruncated saying the log holds no record", err)
	}
}
