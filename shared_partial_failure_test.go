package mmsb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestSharedPartialFailureTellsReaders: a failure that may have left part
// of a batch in the pages (partlyApplied), on a shared bus, closes its
// region: a Reader in shared memory gets ErrWriterGone at its next read,
// as the failed bus's own ReadPage gets ErrFailed, for every page. Made
// here by a panic of the sharded apply (a unit of its own: the commit
// panics under the bus's lock, no page left mid-write), and by a panic
// of the commit itself after its pages were written (stampCommit). Until
// 2026-12-07 such readers read on in the half-applied pages; only a
// panic that left a page mid-write closed the region
// (TestSharedPanicMidWriteTellsReaders).
func TestSharedPartialFailureTellsReaders(t *testing.T) {
	for _, tc := range []struct {
		name  string
		arm   func(e *Bus)
		batch func(ids []PageID) []Delta
	}{
		{"sharded apply panic", func(e *Bus) {
			var panicked atomic.Bool
			e.applier.unitHook = func(job jobKind, onHelper bool) {
				if job == jobApply && !onHelper && !panicked.Swap(true) {
					panic("apply worker bug")
				}
			}
		}, func(ids []PageID) []Delta { return workerPanicBatch(ids, 1) }},
		{"commit panic", func(e *Bus) {
			e.commits = []commitStamp{} // stampCommit indexes it: out of range
		}, func(ids []PageID) []Delta { return []Delta{w(ids[0], 0, "b")} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shm := scratchShmDir(t)
			dir := t.TempDir()
			e, err := Open(dir, &Options{Shared: true, SharedDir: shm, Sync: SyncNone, Workers: 2, SegmentBytes: 1 << 20, CheckpointBytes: -1, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { boundedCall(t, "Close", func() { _ = e.Close() }) })
			ids := mustCreate(t, e, 64, 8)
			rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm})
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			if _, _, _, err := rd.ReadPage(ids[0], nil); err != nil {
				t.Fatal(err)
			}
			e.mu.Lock()
			tc.arm(e)
			e.mu.Unlock()
			if v := boundedCall(t, "Commit", func() { _, _ = e.Commit(ctx, tc.batch(ids)) }); v == nil {
				t.Fatal("Commit did not panic: the test's defect was not reached")
			}
			if _, _, err := e.ReadPage(ids[0], nil); !errors.Is(err, ErrFailed) {
				t.Fatalf("the failed bus's own ReadPage = %v; want ErrFailed", err)
			}
			for _, id := range ids {
				if b, _, _, err := rd.ReadPage(id, nil); !errors.Is(err, ErrWriterGone) || strings.Contains(err.Error(), "mid-write") {
					t.Fatalf("reader's ReadPage(%d) after the bus failed with part of a batch applied = %q, %v; want ErrWriterGone for the closed region", id, b, err)
				}
			}
		})
	}
}

// TestSharedLogFailureReadersReadOn: a failure that leaves whole batches
// in the pages (the log's next segment cannot be created: a directory
// holds its name) fails the bus but leaves its region live: a Reader in
// shared memory reads on, the last acknowledged batch, as the failed
// bus's own ReadPage does.
func TestSharedLogFailureReadersReadOn(t *testing.T) {
	shm := scratchShmDir(t)
	dir := t.TempDir()
	// The smallest segment, each record written at once (its size counts).
	e, err := Open(dir, &Options{Shared: true, SharedDir: shm, Sync: SyncAlways, SegmentBytes: 64, CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boundedCall(t, "Close", func() { _ = e.Close() }) })
	ids := mustCreate(t, e, 2, 64)
	// A record longer than a segment: the next one starts a new segment.
	if _, err := e.Commit(ctx, []Delta{w(ids[0], 0, strings.Repeat("a", 64))}); err != nil {
		t.Fatal(err)
	}
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	next := filepath.Join(e.WALDir(), tlog.SegmentName(e.LastLSN()+1))
	if err := os.Mkdir(next, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{w(ids[0], 0, "b")}); err == nil || !strings.Contains(err.Error(), filepath.Base(next)) {
		t.Fatalf("Commit whose log segment %s cannot be created = %v; want its failure naming the segment", next, err)
	}
	if err := e.Err(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Err() after the log failed = %v; want ErrFailed", err)
	}
	if b, _, err := e.ReadPage(ids[0], nil); err != nil || b[0] != 'a' {
		t.Fatalf("the failed bus's own ReadPage = %q, %v; want the acknowledged %q", b, err, "a")
	}
	for _, id := range ids {
		if _, _, _, err := rd.ReadPage(id, nil); err != nil {
			t.Fatalf("reader's ReadPage(%d) after the log failed = %v; want it to read on (whole batches)", id, err)
		}
	}
	if b, _, _, _ := rd.ReadPage(ids[0], nil); b[0] != 'a' {
		t.Fatalf("reader's page after the log failed = %q; want the acknowledged %q", b, "a")
	}
}

// TestSharedPublishLockErrMapped: publishing a region whose name cannot
// be locked (here its SharedDir is a regular file: ENOTDIR) fails with
// the sentinel openShared's lock of the same name gives
// (ErrInvalidOption naming SharedDir), and publishes nothing. It was
// "mmsb: shared mode: ..." with no sentinel, so an ENOSPC or EACCES at
// publish time was not ErrNoSpace or ErrInvalidOption.
func TestSharedPublishLockErrMapped(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(parent, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	published := false
	err := publishRegion(filepath.Join(parent, "region"), func() error { published = true; return nil })
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), parent) {
		t.Fatalf("publishRegion in SharedDir %s, a regular file = %v; want ErrInvalidOption naming it", parent, err)
	}
	if published {
		t.Fatal("publishRegion published although the region name was not locked")
	}
}
