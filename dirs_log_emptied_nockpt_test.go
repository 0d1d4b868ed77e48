package mmsb

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// testSegmentBytes is the segment size of the crash tests that keep many
// in-memory images of one bus: an image's Open hints its segment's size to
// the MemFS, which makes room for it (80 MiB at the 64 MiB default), and
// the root tests run under qemu-arm with 32-bit addresses in CI, where
// dozens of kept images ran out of memory.
const testSegmentBytes = 1 << 20

// TestLogModeWithoutSegmentOrCheckpoint: a bus with a log that never took
// a checkpoint, whose wal/ was then emptied (or removed), lost every
// operation it committed; Open, Replay and QueryLogDir read it as a new,
// empty bus (and `mmsb check` said OK), since the refusal of an emptied
// log looked only at directories holding a checkpoint. checkpoints/log-mode
// says "log" only once the first Open's segment is durable
// (TestFirstOpenCrashAtEveryStep), and the log keeps a segment, so the
// directory is refused as lost files now, and changed by nothing. Repair
// and DisableLog accept the loss (and report it); a directory without
// the mode file, or whose mode is "no log", lost nothing known and opens.
// A segment renamed with ".del" (the name the log gives a segment it
// removes, only ever beside a checkpoint) is named in the refusal, with
// the advice to rename it back: Repair removes it as a leftover.
func TestLogModeWithoutSegmentOrCheckpoint(t *testing.T) {
	// written returns /db on a new MemFS: a bus with its log, a page and
	// three commits (LSN 4), no checkpoint, closed.
	written := func(t *testing.T) vfs.FS {
		t.Helper()
		fs := vfs.NewMem()
		e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
		if err != nil {
			t.Fatal(err)
		}
		id := mustCreate(t, e, 1, 16)[0]
		for i := range 3 {
			if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{1})}); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		return fs
	}
	removeWAL := func(t *testing.T, fs vfs.FS) {
		t.Helper()
		emptyWAL(t, fs)
		if err := fs.Remove("/db/wal"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, fs vfs.FS)
		opts    Options
		refused bool
		wantLSN LSN
		lost    bool  // Recovery().Log reports LSN 1 on lost
		query   error // what QueryLogDir answers (nil: it reads the log)
		says    []string
	}{
		{name: "intact (control)", wantLSN: 4},
		{name: "wal/ emptied", prepare: emptyWAL, refused: true},
		{name: "wal/ removed", prepare: removeWAL, refused: true},
		{name: "wal/ emptied, Repair", prepare: emptyWAL, opts: Options{Repair: true}, lost: true},
		{name: "wal/ removed, Repair", prepare: removeWAL, opts: Options{Repair: true}, lost: true},
		{name: "wal/ emptied, DisableLog", prepare: emptyWAL, opts: Options{DisableLog: true}, lost: true}, // reported since TestDisableLogReportsRemovedLog
		{name: "wal/ emptied, no log-mode file", prepare: func(t *testing.T, fs vfs.FS) {
			emptyWAL(t, fs)
			if err := fs.Remove("/db/checkpoints/" + tlog.ModeFileName); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "wal/ emptied, log-mode says no log", prepare: func(t *testing.T, fs vfs.FS) {
			emptyWAL(t, fs)
			if err := tlog.WriteMode(fs, "/db/checkpoints", tlog.ModeNoLog); err != nil {
				t.Fatal(err)
			}
		}, query: ErrLogTruncated}, // no log holds its operations (TestQueryLogDirWrittenWithoutLog)
		{name: "log-mode damaged", prepare: func(t *testing.T, fs vfs.FS) {
			// Refused as beside a checkpoint (TestEmptiedLogRefused):
			// rewritten by Open, it hid an emptied wal/ too.
			f, err := fs.Create("/db/checkpoints/" + tlog.ModeFileName)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("MMSBLOGM garbage")); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}, refused: true, says: []string{"malformed log-mode file", "/db/checkpoints/" + tlog.ModeFileName, "remove it"}},
		{name: "segment renamed to .log.del", prepare: func(t *testing.T, fs vfs.FS) {
			// Not the log's leftover: it removes segments only beside a
			// checkpoint. The refusal said only that wal/ holds no
			// segment, and Repair removes such a file (every commit).
			seg := "/db/wal/" + tlog.SegmentName(1)
			if err := fs.Rename(seg, seg+".del"); err != nil {
				t.Fatal(err)
			}
		}, refused: true, says: []string{"the bus's files are lost", "/db/wal/" + tlog.SegmentName(1) + ".del remains under the names", "rename it back", "Options.Repair removes them", "restore them from a backup"}},
		{name: "wal/ emptied, a checkpoint's temporary left", prepare: func(t *testing.T, fs vfs.FS) {
			// A checkpoint written when the bus stopped, or renamed by
			// hand: Repair removes it as a leftover.
			emptyWAL(t, fs)
			f, err := fs.Create("/db/checkpoints/checkpoint-00000000000000000004.ckpt.tmp")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("a checkpoint's bytes")); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}, refused: true, says: []string{"the bus's files are lost", "/db/checkpoints/checkpoint-00000000000000000004.ckpt.tmp remains under the names", "rename it back"}},
		{name: "a segment renamed to .log.del, a checkpoint's temporary left", prepare: func(t *testing.T, fs vfs.FS) {
			// Two files: "remain" (one "remains": "X remain" of one
			// until 2026-12-07).
			seg := "/db/wal/" + tlog.SegmentName(1)
			if err := fs.Rename(seg, seg+".del"); err != nil {
				t.Fatal(err)
			}
			f, err := fs.Create("/db/checkpoints/checkpoint-00000000000000000004.ckpt.tmp")
			if err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}, refused: true, says: []string{"/db/wal/" + tlog.SegmentName(1) + ".del, /db/checkpoints/checkpoint-00000000000000000004.ckpt.tmp remain under the names"}},
		{name: "only segment empty (a new bus's)", prepare: func(t *testing.T, fs vfs.FS) {
			emptyWAL(t, fs)
			if err := tlog.CreateEmptySegment(fs, "/db/wal", 1); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, via := range []string{"Open", "Replay", "QueryLogDir"} {
				fs := written(t)
				if tc.prepare != nil {
					tc.prepare(t, fs)
				}
				before := snapshotFiles(t, fs, "/db")
				opts := tc.opts
				opts.FS, opts.CheckpointBytes, opts.Clock = fs, -1, testClock()
				var lsn LSN
				var err error
				switch via {
				case "Open":
					var e *Bus
					if e, err = Open("/db", &opts); err == nil {
						lsn = e.LastLSN()
						rec := e.Recovery().Log
						if tc.lost != (rec.LostFirstLSN == 1 && rec.LostLastLSN == LostLSNUnknown) {
							t.Errorf("Open: Recovery().Log lost %d..%d, want the loss from LSN 1 reported: %v", rec.LostFirstLSN, rec.LostLastLSN, tc.lost)
						}
						err = e.Close()
					}
				case "Replay":
					var e *Bus
					if e, err = Replay(ctx, "/db", ReplayTarget{}, &opts); err == nil {
						lsn = e.LastLSN()
						err = e.Close()
					}
				case "QueryLogDir":
					if tc.opts.Repair || tc.opts.DisableLog {
						continue // QueryLogDir takes no options
					}
					err = QueryLogDir(ctx, fs, "/db", LogQuery{}, func(*LoggedOp) bool { return true })
					lsn = tc.wantLSN // reads the log; refused or not is what counts
					if tc.query != nil {
						if !errors.Is(err, tc.query) {
							t.Fatalf("QueryLogDir = %v, want %v", err, tc.query)
						}
						err = nil
					}
				}
				if tc.refused {
					says := tc.says
					if says == nil {
						says = []string{"the bus's files are lost", "/db/wal", tlog.ModeFileName, "restore them from a backup", "Options.Repair",
							"removing /db/checkpoints/" + tlog.ModeFileName + " accepts the loss too"} // the way out from the command line: the row "wal/ emptied, no log-mode file" opens
					}
					for _, want := range says {
						if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), want) {
							t.Fatalf("%s = %v, want ErrCorruption saying %q", via, err, want)
						}
					}
					if after := snapshotFiles(t, fs, "/db"); after != before {
						t.Fatalf("%s refused the directory but changed it: %s, was %s", via, after, before)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", via, err)
				}
				if lsn != tc.wantLSN {
					t.Fatalf("%s reached LSN %d, want %d", via, lsn, tc.wantLSN)
				}
			}
		})
	}
}

// TestFirstOpenCrashAtEveryStep: the first Open of a directory with a log
// makes checkpoints/ and wal/, the first segment (its header fsynced, wal/
// synced), and only then writes checkpoints/log-mode "log". A crash image
// (three ways of keeping unsynced entries, torn tails, two seeds) before
// every filesystem operation of that Open and its Close that changes the
// files, and after them, must never hold "log" without a segment (which
// TestLogModeWithoutSegmentOrCheckpoint refuses as lost files), and the
// next Open of each must make or reopen the bus, empty, leaving a segment
// and "log" behind.
func TestFirstOpenCrashAtEveryStep(t *testing.T) {
	for _, entries := range []vfs.EntryMode{vfs.DropUnsyncedEntries, vfs.KeepUnsyncedEntries, vfs.RandomUnsyncedEntries} {
		t.Run(fmt.Sprintf("entries %d", entries), func(t *testing.T) {
			mem := vfs.NewMem()
			type image struct {
				when string
				fs   *vfs.MemFS
			}
			var images []image
			take := func(when string) {
				for seed := range int64(2) {
					img := mem.CrashCloneWith(vfs.CrashOptions{Seed: seed, Entries: entries, TornTail: true})
					images = append(images, image{fmt.Sprintf("%s, seed %d", when, seed), img})
				}
			}
			ops := 0
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				switch op.Kind {
				case errorfs.OpOpen, errorfs.OpList, errorfs.OpRead, errorfs.OpSize, errorfs.OpClose, errorfs.OpLock:
					return nil // changes nothing on disk: the image before the next change is the same
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
			segmentOnly := 0
			for _, img := range images {
				mode, merr := tlog.ReadMode(img.fs, "/db/checkpoints")
				has, herr := tlog.HasSegment(img.fs, "/db/wal")
				if merr != nil || herr != nil {
					t.Fatalf("crash %s: log mode %v, %v; segment %v, %v", img.when, mode, merr, has, herr)
				}
				if mode == tlog.ModeLog && !has {
					t.Fatalf("crash %s: checkpoints/log-mode says log, and wal/ holds no segment (lost files, to the next Open)", img.when)
				}
				if has && mode == tlog.ModeUnknown {
					segmentOnly++
				}
				r, err := Open("/db", &Options{FS: img.fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
				if err != nil {
					t.Fatalf("crash %s: the next Open: %v", img.when, err)
				}
				lsn := r.LastLSN()
				if err := r.Close(); err != nil {
					t.Fatalf("crash %s: close: %v", img.when, err)
				}
				if lsn != 0 {
					t.Fatalf("crash %s: the next Open reached LSN %d, want 0", img.when, lsn)
				}
				mode, merr = tlog.ReadMode(img.fs, "/db/checkpoints")
				has, herr = tlog.HasSegment(img.fs, "/db/wal")
				if merr != nil || herr != nil || mode != tlog.ModeLog || !has {
					t.Fatalf("crash %s: after the next Open: log mode %v, %v; segment %v, %v; want log and a segment", img.when, mode, merr, has, herr)
				}
			}
			if segmentOnly == 0 {
				t.Fatalf("no crash image held the segment without the log-mode file: the points between them were not visited (%d images)", len(images))
			}
		})
	}
}
