package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestReplayTornHeaderOfLastSegment: a crash while an Open writes a new
// segment's header (the first Open's first segment, or a rotation's next
// one) leaves a last segment holding part of its header. Open reads it as
// the end of the log and rewrites it; Replay refused the directory as
// corruption ("segment header truncated (file is 11 bytes, header is
// 24)"), and so did `mmsb inspect`, `graph`, `replay` and check's replays
// (TestFirstOpenCrashStatesAcceptedByEveryCommand in cmd/mmsb). Replay
// reads it as Open does now. A torn header on a segment that is not the
// last is damage, refused as before.
func TestReplayTornHeaderOfLastSegment(t *testing.T) {
	// tear cuts the segment of wal/ starting at first to 11 bytes of its
	// header, made by tlog.CreateEmptySegment when it does not exist.
	tear := func(t *testing.T, fs vfs.FS, first LSN) {
		t.Helper()
		path := "/db/wal/" + tlog.SegmentName(first)
		if !fs.Exists(path) {
			if err := tlog.CreateEmptySegment(fs, "/db/wal", first); err != nil {
				t.Fatal(err)
			}
		}
		f, err := fs.OpenAppend(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(11); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		commits int
		torn    LSN // the segment torn (its first LSN)
		refused bool
		wantLSN LSN
	}{
		{name: "only segment (a first Open's)", torn: 1},
		{name: "after a segment with records (a rotation's)", commits: 3, torn: 5, wantLSN: 4},
		{name: "a segment before the last (damage)", commits: 3, torn: 1, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			if tc.commits > 0 {
				id := mustCreate(t, e, 1, 16)[0]
				for i := range tc.commits {
					if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{1})}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			tear(t, fs, tc.torn)
			if tc.refused {
				// A later segment after the torn one: it is not the last.
				if err := tlog.CreateEmptySegment(fs, "/db/wal", 5); err != nil {
					t.Fatal(err)
				}
			}
			for _, target := range []ReplayTarget{{}, {FromEmpty: true}} {
				r, err := Replay(ctx, "/db", target, &Options{FS: fs})
				if tc.refused {
					if err == nil {
						r.Close()
						t.Fatalf("Replay(%+v) of a torn header before the last segment succeeded", target)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Replay(%+v): %v", target, err)
				}
				lsn := r.LastLSN()
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
				if lsn != tc.wantLSN {
					t.Fatalf("Replay(%+v) reached LSN %d, want %d", target, lsn, tc.wantLSN)
				}
			}
		})
	}
}
