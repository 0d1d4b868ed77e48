package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestQueryLogDirTornHeaderOfLastSegment: a crash while an Open writes a
// new segment's header (the first Open's first segment, or a rotation's
// next one) leaves a last segment holding part of its header, or zeros.
// Open and Replay read it as the end of the log (tornLast); QueryLogDir
// refused the directory as corruption ("segment header truncated (file is
// 11 bytes, header is 24)"), so a bus that opened was one whose log could
// not be queried. It answers what the log holds now; the same header on a
// segment that is not the last, or on a last segment named past a gap, is
// still refused.
func TestQueryLogDirTornHeaderOfLastSegment(t *testing.T) {
	// tear leaves the segment of wal/ starting at first with 11 bytes:
	// its header's first ones, or zeros; made by tlog.CreateEmptySegment
	// when it does not exist.
	tear := func(t *testing.T, fs vfs.FS, first LSN, zeros bool) {
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
		keep := int64(11)
		if zeros {
			keep = 0
		}
		if err := f.Truncate(keep); err != nil {
			t.Fatal(err)
		}
		if zeros {
			if _, err := f.Write(make([]byte, 11)); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		commits int   // after a page's creation (LSN 1)
		ckpt    bool  // a checkpoint at the last LSN, wal/…01.log removed
		torn    LSN   // the segment torn (its first LSN)
		later   LSN   // a segment made after the torn one (0: none)
		from    LSN   // the query's FromLSN
		want    int   // operations answered
		wantErr error // instead
	}{
		{name: "only segment (a first Open's)", torn: 1, want: 0},
		{name: "only segment, asked from LSN 1", torn: 1, from: 1, want: 0},
		{name: "after a segment with records (a rotation's)", commits: 3, torn: 5, want: 4},
		{name: "after a segment with records, asked from LSN 3", commits: 3, torn: 5, from: 3, want: 2},
		{name: "after a segment with records, asked from the torn one's LSN", commits: 3, torn: 5, from: 5, want: 0},
		{name: "only segment, where the checkpoint ends", commits: 3, ckpt: true, torn: 5, want: 0},
		{name: "only segment, asked from before it", commits: 3, ckpt: true, torn: 5, from: 2, wantErr: ErrLogTruncated},
		{name: "after a gap (damage)", commits: 3, torn: 10, wantErr: ErrCorruption},
		{name: "after a gap, asked from inside it", commits: 3, torn: 10, from: 7, wantErr: ErrCorruption},
		{name: "a segment before the last (damage)", commits: 3, torn: 1, later: 5, wantErr: ErrCorruption},
	} {
		for _, zeros := range []bool{false, true} {
			name := tc.name
			if zeros {
				name += ", zeros"
			}
			t.Run(name, func(t *testing.T) {
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
				if tc.ckpt {
					if _, err := e.Checkpoint(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				if tc.ckpt {
					if err := fs.Remove("/db/wal/" + tlog.SegmentName(1)); err != nil {
						t.Fatal(err)
					}
				}
				tear(t, fs, tc.torn, zeros)
				if tc.later != 0 {
					if err := tlog.CreateEmptySegment(fs, "/db/wal", tc.later); err != nil {
						t.Fatal(err)
					}
				}
				n := 0
				err = QueryLogDir(ctx, fs, "/db", LogQuery{FromLSN: tc.from}, func(*LoggedOp) bool { n++; return true })
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("QueryLogDir from LSN %d: %v (%d operations), want %v", tc.from, err, n, tc.wantErr)
					}
					return
				}
				if err != nil || n != tc.want {
					t.Fatalf("QueryLogDir from LSN %d: %v, %d operations; want nil, %d", tc.from, err, n, tc.want)
				}
			})
		}
	}
}
