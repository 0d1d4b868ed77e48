package mmsb

import (
	"fmt"
	"io"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestCheckpointBesideEmptySegmentCrashAtEveryStep: a checkpoint put
// beside the empty segment of a bus that held nothing (a replica's
// bootstrap writes the stored checkpoint there: its hasState takes
// log-mode and a header-only segment for no state) is continued by a log
// at the checkpoint's LSN + 1, so Open drops that segment and makes the
// one where the log continues. It removed the old one first: a crash in
// between left checkpoints/log-mode "log" beside a checkpoint and no
// segment, which every later Open refuses as a log emptied of its
// segments (ErrCorruption), and a follower so refused stays down. A crash
// image before every change of that Open, and after it, must each open at
// the checkpoint's LSN, leaving a segment.
func TestCheckpointBesideEmptySegmentCrashAtEveryStep(t *testing.T) {
	// The checkpoint: another bus's, at LSN 4.
	src := vfs.NewMem()
	a, err := Open("/src", &Options{FS: src, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	id := mustCreate(t, a, 1, 16)[0]
	for i := range 3 {
		if _, err := a.Commit(ctx, []Delta{Write(id, uint32(i), []byte{1})}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := a.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	ckpt := readAll(t, src, info.Path)
	name := info.Path[len("/src/checkpoints/"):]

	for _, entries := range []vfs.EntryMode{vfs.DropUnsyncedEntries, vfs.KeepUnsyncedEntries, vfs.RandomUnsyncedEntries} {
		t.Run(fmt.Sprintf("entries %d", entries), func(t *testing.T) {
			// The replica's directory: opened once on an empty stream
			// (log-mode "log", segment 1 holding its header only), then
			// the stored checkpoint written beside them.
			mem := vfs.NewMem()
			b, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := mem.Create("/db/checkpoints/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(ckpt); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if err := mem.SyncDir("/db/checkpoints"); err != nil {
				t.Fatal(err)
			}
			type image struct {
				when string
				fs   *vfs.MemFS
			}
			var images []image
			ops := 0
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				switch op.Kind {
				case errorfs.OpOpen, errorfs.OpList, errorfs.OpRead, errorfs.OpSize, errorfs.OpClose, errorfs.OpLock:
					return nil // changes nothing on disk
				}
				ops++
				images = append(images, image{fmt.Sprintf("before change %d (%v)", ops, op), mem.CrashCloneWith(vfs.CrashOptions{Entries: entries, TornTail: true})})
				return nil
			}))
			e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			if got := e.LastLSN(); got != 4 {
				t.Fatalf("opened at LSN %d, want the checkpoint's, 4", got)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			images = append(images, image{"after Open and Close", mem.CrashCloneWith(vfs.CrashOptions{Entries: entries, TornTail: true})})
			for _, img := range images {
				r, err := Open("/db", &Options{FS: img.fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
				if err != nil {
					t.Fatalf("crash %s: the next Open: %v", img.when, err)
				}
				lsn := r.LastLSN()
				if err := r.Close(); err != nil {
					t.Fatalf("crash %s: close: %v", img.when, err)
				}
				if lsn != 4 {
					t.Fatalf("crash %s: the next Open reached LSN %d, want 4", img.when, lsn)
				}
				if has, err := tlog.HasSegment(img.fs, "/db/wal"); err != nil || !has {
					t.Fatalf("crash %s: after the next Open, a segment %v, %v; want one", img.when, has, err)
				}
			}
		})
	}
}

// readAll returns the bytes of the file at path on fs.
func readAll(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // read only
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
