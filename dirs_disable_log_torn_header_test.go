package mmsb

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestDisableLogAfterLogOpenCrashAtEveryStep: a bus run without a log
// (checkpoints/log-mode "no log", a checkpoint, wal/ empty), then opened
// with its log: that Open makes the log's segment, then writes "log". A
// crash image before every change of it (three entry modes, torn tails),
// and after it, must open again both ways, at the checkpoint's
// LSN. A crash before the new segment's header was durable left a torn
// header (recovery with the log rewrites it), and the next Open without a
// log refused the directory as a log that cannot be read to its end
// (ErrInvalidOption, "segment header truncated"), though it holds no
// record.
func TestDisableLogAfterLogOpenCrashAtEveryStep(t *testing.T) {
	for _, entries := range []vfs.EntryMode{vfs.DropUnsyncedEntries, vfs.KeepUnsyncedEntries, vfs.RandomUnsyncedEntries} {
		t.Run(fmt.Sprintf("entries %d", entries), func(t *testing.T) {
			mem := vfs.NewMem()
			a, err := Open("/db", &Options{FS: mem, DisableLog: true, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			mustCreate(t, a, 1, 16)
			if _, err := a.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			type image struct {
				when string
				fs   *vfs.MemFS
			}
			var images []image
			take := func(when string) {
				images = append(images, image{when, mem.CrashCloneWith(vfs.CrashOptions{Entries: entries, TornTail: true})})
			}
			ops := 0
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				switch op.Kind {
				case errorfs.OpOpen, errorfs.OpList, errorfs.OpRead, errorfs.OpSize, errorfs.OpClose, errorfs.OpLock:
					return nil // changes nothing on disk
				}
				ops++
				take(fmt.Sprintf("before change %d (%v)", ops, op))
				return nil
			}))
			e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			take("after Open and Close")
			for _, img := range images {
				for _, noLog := range []bool{true, false} {
					// Each way on its own copy of the image.
					c := img.fs.CrashCloneWith(vfs.CrashOptions{Entries: vfs.KeepUnsyncedEntries})
					r, err := Open("/db", &Options{FS: c, DisableLog: noLog, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
					if err != nil {
						t.Fatalf("crash %s: the next Open (DisableLog %v): %v", img.when, noLog, err)
					}
					lsn := r.LastLSN()
					if err := r.Close(); err != nil {
						t.Fatal(err)
					}
					if lsn != 1 {
						t.Fatalf("crash %s: the next Open (DisableLog %v) reached LSN %d, want 1", img.when, noLog, lsn)
					}
					if has, err := tlog.HasSegment(c, "/db/wal"); err != nil || has == noLog {
						t.Fatalf("crash %s: after the next Open (DisableLog %v): a segment %v (%v)", img.when, noLog, has, err)
					}
				}
			}
		})
	}
}
