package mmsb

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestQueryLogDirSegmentRemovedWhileRead: a log query lists the
// segments, then opens each in turn; a checkpoint of the bus writing the
// log can remove (trim) a listed segment in between. The query failed
// with the bare "file does not exist" of the open, which the server's
// watch catch-up answered as an internal error rather than as a
// compacted LSN (ErrLogTruncated). Now a segment removed before the query
// read a record is listed again, as a query a moment later would (a query
// from LSN 0 answers the log from its new oldest record; one from an LSN
// the removed segment held is ErrLogTruncated), and one removed after it
// read records is ErrLogTruncated naming the LSN it wanted.
func TestQueryLogDirSegmentRemovedWhileRead(t *testing.T) {
	mem := vfs.NewMem()
	e, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	ids := mustCreate(t, e, 1, 64)
	for i := range 200 {
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
			t.Fatal(err)
		}
	}
	last := e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := mem.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, n := range names {
		if isSegmentName(n) {
			segs = append(segs, mem.Join("/db/wal", n))
		}
	}
	if len(segs) < 3 {
		t.Fatalf("%d segments, want 3 or more", len(segs))
	}
	for _, tc := range []struct {
		name   string
		from   LSN
		remove int  // the segment removed as the query opens it
		fails  bool // ErrLogTruncated
	}{
		{"oldest, from the start", 0, 0, false},
		{"oldest, from an LSN in it", 1, 0, true},
		{"second, after records", 0, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := mem.CrashClone() // the closed bus synced everything
			target := segs[tc.remove]
			var removed atomic.Bool
			efs := errorfs.Wrap(fs, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind == errorfs.OpOpen && op.Path == target && !removed.Swap(true) {
					// A checkpoint trims the log: oldest first, up to
					// the segment being opened.
					for _, s := range segs[:tc.remove+1] {
						if err := fs.Remove(s); err != nil {
							t.Error(err)
						}
					}
				}
				return nil
			}))
			var got []LSN
			err := QueryLogDir(ctx, efs, "/db", LogQuery{FromLSN: tc.from}, func(lo *LoggedOp) bool {
				got = append(got, lo.LSN)
				return true
			})
			if !removed.Load() {
				t.Fatalf("the query never opened %s", target)
			}
			for i := 1; i < len(got); i++ {
				if got[i] != got[i-1]+1 {
					t.Fatalf("answer skips from LSN %d to %d", got[i-1], got[i])
				}
			}
			if tc.fails {
				if !errors.Is(err, ErrLogTruncated) {
					t.Fatalf("query with %s removed as it was opened: %v, want ErrLogTruncated", target, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("query with %s removed as it was opened: %v, want the log from its new oldest record", target, err)
			}
			if len(got) == 0 || got[len(got)-1] != last {
				t.Fatalf("query answered %d operations, want up to LSN %d", len(got), last)
			}
		})
	}
}

// TestQueryLogDirMiddleSegmentRemovedWhileRead: a segment removed as the
// query opens it while older segments stay was not trimmed (a trim
// removes the oldest first): deleted by hand, cut by a Repair. It was
// answered as ErrLogTruncated, which tells the caller (a watch's
// catch-up, a follower) that a checkpoint covered the LSNs; it is
// ErrCorruption, as a query a moment later meets the gap.
func TestQueryLogDirMiddleSegmentRemovedWhileRead(t *testing.T) {
	mem := vfs.NewMem()
	e, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	ids := mustCreate(t, e, 1, 64)
	for i := range 200 {
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := mem.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	var second LSN // the second segment's first LSN
	for _, n := range names {
		if first, ok := tlog.ParseSegmentName(n); ok {
			if len(segs) == 1 {
				second = first
			}
			segs = append(segs, mem.Join("/db/wal", n))
		}
	}
	if len(segs) < 3 {
		t.Fatalf("%d segments, want 3 or more", len(segs))
	}
	for _, tc := range []struct {
		name string
		from LSN
	}{
		{"after records", 0},
		{"from an LSN in it", second + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := mem.CrashClone()
			var removed atomic.Bool
			efs := errorfs.Wrap(fs, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind == errorfs.OpOpen && op.Path == segs[1] && !removed.Swap(true) {
					if err := fs.Remove(segs[1]); err != nil {
						t.Error(err)
					}
				}
				return nil
			}))
			err := QueryLogDir(ctx, efs, "/db", LogQuery{FromLSN: tc.from}, func(*LoggedOp) bool { return true })
			if !removed.Load() {
				t.Fatalf("the query never opened %s", segs[1])
			}
			if !errors.Is(err, ErrCorruption) || errors.Is(err, ErrLogTruncated) {
				t.Fatalf("query with %s removed as it was opened, %s still there: %v, want ErrCorruption (no checkpoint trimmed it)", segs[1], segs[0], err)
			}
		})
	}
}

// TestQueryLogDirTrimmedAtEachListing: a query from LSN 0 lists the log
// again when its oldest segment is gone as it opens it, a bounded number
// of times. Trimmed under every listing, it answered the bare "no such
// file" of the open once the bound was spent; it is ErrLogTruncated, as
// Replay says it (maxReplayTries).
func TestQueryLogDirTrimmedAtEachListing(t *testing.T) {
	mem := vfs.NewMem()
	e, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	ids := mustCreate(t, e, 1, 64)
	var segs []string
	for i := 0; len(segs) < maxQueryRelists+3; i++ {
		if i == 5000 {
			t.Fatalf("%d segments after %d commits, want %d", len(segs), i, maxQueryRelists+3)
		}
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
			t.Fatal(err)
		}
		if i%50 != 49 {
			continue
		}
		names, err := mem.List("/db/wal")
		if err != nil {
			t.Fatal(err)
		}
		segs = segs[:0]
		for _, n := range names {
			if isSegmentName(n) {
				segs = append(segs, mem.Join("/db/wal", n))
			}
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	removed := 0 // segs[:removed] are gone
	efs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		// A checkpoint trims the oldest segment as the query opens it,
		// each time.
		if op.Kind == errorfs.OpOpen && removed < len(segs) && op.Path == segs[removed] {
			if err := mem.Remove(segs[removed]); err != nil {
				t.Error(err)
			}
			removed++
		}
		return nil
	}))
	answered := 0
	err = QueryLogDir(ctx, efs, "/db", LogQuery{}, func(*LoggedOp) bool { answered++; return true })
	if removed != maxQueryRelists+1 {
		t.Fatalf("the query opened and lost %d segments, want %d", removed, maxQueryRelists+1)
	}
	if !errors.Is(err, ErrLogTruncated) || answered != 0 {
		t.Fatalf("query of a log trimmed under each of its listings: %v (%d operations answered), want ErrLogTruncated", err, answered)
	}
}
