package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestNamedEmptySegmentReplacedFailAtEveryStep: the only segment, empty,
// named for the LSN after the checkpoint's and named by wal/newest-segment,
// which recovery replaces: every change Open makes to the directory fails
// in turn (a full disk, an I/O error), and the Open after, on the
// directory as the failed one left it, opens at the checkpoint with
// nothing lost. A crash image cannot show what a truncation leaves
// (vfs.CrashOptions keeps a file's synced bytes through an unsynced
// truncation), but a failed write after one leaves it live: replaced in
// place (cut to nothing, then its header written), the segment stayed cut
// to nothing when the header's write failed, which the newest-segment
// file calls damage (tlog.NamedHeaderTorn), and every later Open refused
// a healthy directory. The negative side of
// TestNamedEmptySegmentReplacedCrashAtEveryStep.
func TestNamedEmptySegmentReplacedFailAtEveryStep(t *testing.T) {
	errInjected := errors.New("injected")
	for n := 1; ; n++ {
		mem, ckpt := namedEmptyOnlySegment(t)
		changes := 0
		var failed string
		fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
			switch op.Kind {
			case errorfs.OpOpen, errorfs.OpList, errorfs.OpRead, errorfs.OpSize, errorfs.OpClose, errorfs.OpLock:
				return nil // changes nothing on disk
			}
			changes++
			if changes == n {
				failed = op.String()
				return errInjected
			}
			return nil
		}))
		e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
		if err == nil {
			if cerr := e.Close(); cerr != nil && failed == "" {
				t.Fatal(cerr)
			}
		}
		if failed == "" {
			if n == 1 {
				t.Fatal("Open changed nothing: the test does not reach the replacement")
			}
			return // every change failed once
		}
		e, err = Open("/db", &Options{FS: mem, CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
		if err != nil {
			t.Fatalf("change %d (%s) failed: the next Open: %v", n, failed, err)
		}
		lsn, rec := e.LastLSN(), e.Recovery().Log
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if lsn != ckpt || rec.LostFirstLSN != 0 {
			t.Fatalf("change %d (%s) failed: the next Open reached LSN %d, %+v; want %d, nothing lost", n, failed, lsn, rec, ckpt)
		}
	}
}

// namedEmptyOnlySegment is a bus whose only segment is empty (its header
// only), named for the LSN after the checkpoint's, which wal/newest-segment
// names (a rotation made it, and the checkpoint's prune removed the one
// before), all durable. It returns the checkpoint's LSN.
func namedEmptyOnlySegment(t *testing.T) (*vfs.MemFS, LSN) {
	t.Helper()
	mem := vfs.NewMem()
	e, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	id := mustCreate(t, e, 1, 4096)[0]
	if _, err := e.Commit(ctx, []Delta{Write(id, 0, make([]byte, 4096))}); err != nil {
		t.Fatal(err)
	}
	info, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte{1})}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	seg := "/db/wal/" + tlog.SegmentName(info.LSN+1)
	writeAll(t, mem, seg, readAll(t, mem, seg)[:tlog.SegmentHeaderSize])
	if err := mem.Remove("/db/wal/" + tlog.SegmentName(1)); err != nil {
		t.Fatal(err)
	}
	if err := mem.SyncDir("/db/wal"); err != nil {
		t.Fatal(err)
	}
	if newest, err := tlog.ReadNewest(mem, "/db/wal"); err != nil || newest != info.LSN+1 {
		t.Fatalf("newest-segment file names %d (%v), want %d", newest, err, info.LSN+1)
	}
	return mem, info.LSN
}
