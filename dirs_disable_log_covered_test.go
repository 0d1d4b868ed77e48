package mmsb

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// coveredLogDir writes /db on a new MemFS with a bus with its log: one
// page, commits spread over several 4 KiB segments, a checkpoint that
// covers them all (extra: then that many more commits, not covered), and
// a clean Close. It returns the filesystem, the page, the page's bytes
// at the checkpoint and the checkpoint's LSN.
func coveredLogDir(t *testing.T, extra int) (*vfs.MemFS, PageID, []byte, LSN) {
	t.Helper()
	mem := vfs.NewMem()
	e, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock(), SegmentBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	id := mustCreate(t, e, 1, 1024)[0]
	for i := range 40 {
		if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i*16), []byte(strings.Repeat(string(rune('a'+i%26)), 200)))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	want, lsn := readPage(t, e, id), e.LastLSN()
	for i := range extra {
		if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte("Z"))}); err != nil {
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
	if n := countSegments(names); n < 3 {
		t.Fatalf("wal/ holds %d segments, want at least 3 (the case under test)", n)
	}
	return mem, id, want, lsn
}

func countSegments(names []string) int {
	n := 0
	for _, name := range names {
		if isSegmentName(name) {
			n++
		}
	}
	return n
}

// TestDisableLogOverCoveredLog: a DisableLog Open of a directory whose log
// records the newest checkpoint all covers was ErrInvalidOption ("the bus
// would ignore the operations it holds past the newest checkpoint") though
// it held none past it: a bus run with its log, checkpointed and closed
// could never be opened without one. It opens now at the checkpoint's
// state, records "no log" and removes the segments (the history before
// the checkpoint goes; nothing committed does), and the directory then
// reopens with a log and replays. A log holding an operation past the
// checkpoint is still refused and kept, the refusal naming the segment,
// the LSN and the way out (open it with its log and take a checkpoint),
// and so is one whose operations only a checkpoint that does not load
// covers.
func TestDisableLogOverCoveredLog(t *testing.T) {
	t.Run("covered", func(t *testing.T) {
		mem, id, want, lsn := coveredLogDir(t, 0)
		d, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock(), DisableLog: true})
		if err != nil {
			t.Fatalf("DisableLog Open of a log the checkpoint covers: %v", err)
		}
		if got := readPage(t, d, id); d.LastLSN() != lsn || string(got) != string(want) {
			t.Fatalf("DisableLog Open: LSN %d, page differs from the checkpoint's (LSN %d)", d.LastLSN(), lsn)
		}
		if _, err := d.Commit(ctx, []Delta{Write(id, 0, []byte("N"))}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		want = readPage(t, d, id)
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if has, err := tlog.HasSegment(mem, "/db/wal"); err != nil || has {
			t.Fatalf("after the bus without a log wal/ holds a segment: %v, %v; want none", has, err)
		}
		if m, err := tlog.ReadMode(mem, "/db/checkpoints"); err != nil || m != tlog.ModeNoLog {
			t.Fatalf("log mode = %v, %v; want %v", m, err, tlog.ModeNoLog)
		}
		l, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock()})
		if err != nil {
			t.Fatalf("Open with a log after the bus without one: %v", err)
		}
		if got := readPage(t, l, id); l.LastLSN() != lsn+1 || string(got) != string(want) {
			t.Fatalf("Open with a log: LSN %d, want %d, page differs: %v", l.LastLSN(), lsn+1, string(got) != string(want))
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: mem})
		if err != nil {
			t.Fatalf("Replay: %v", err)
		}
		defer r.Close()
		if got := readPage(t, r, id); r.LastLSN() != lsn+1 || string(got) != string(want) {
			t.Fatalf("Replay: LSN %d, want %d", r.LastLSN(), lsn+1)
		}
	})
	t.Run("operations past the checkpoint (refused)", func(t *testing.T) {
		mem, _, _, lsn := coveredLogDir(t, 2)
		before := snapshotFiles(t, mem, "/db")
		d, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock(), DisableLog: true})
		if err == nil {
			_ = d.Close()
			t.Fatal("DisableLog Open of a log holding operations past the checkpoint succeeded")
		}
		for _, s := range []string{"DisableLog", fmt.Sprintf("operations from LSN %d", lsn+1), ".log", "open it with its log", "checkpoint"} {
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), s) {
				t.Fatalf("DisableLog Open = %v, want ErrInvalidOption containing %q", err, s)
			}
		}
		if after := snapshotFiles(t, mem, "/db"); after != before {
			t.Fatalf("the refused Open changed the directory:\nbefore %s\nafter  %s", before, after)
		}
		// The way out the refusal names.
		l, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		d, err = Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock(), DisableLog: true})
		if err != nil {
			t.Fatalf("DisableLog Open after the checkpoint the refusal names: %v", err)
		}
		if d.LastLSN() != lsn+2 {
			t.Fatalf("DisableLog Open after the checkpoint: LSN %d, want %d", d.LastLSN(), lsn+2)
		}
		_ = d.Close()
	})
	t.Run("log damaged (refused)", func(t *testing.T) {
		mem, _, _, lsn := coveredLogDir(t, 3)
		// The first record past the checkpoint, with two after it (not a
		// torn tail). Damage in a record the checkpoint covers is history
		// the checkpoint replaces, not read, as in recovery with the log
		// (TestDisableLogOverDamagedCoveredLog).
		r, err := tlog.NewReader(mem, "/db/wal", lsn+1)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := r.Next()
		if err != nil || rec.FirstLSN != lsn+1 {
			t.Fatalf("the record of LSN %d: %+v, %v", lsn+1, rec, err)
		}
		seg, off := rec.File, rec.Offset
		_ = r.Close() // read only
		f, err := mem.Open(seg)
		if err != nil {
			t.Fatal(err)
		}
		n, err := f.Size()
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		if _, err := f.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		_ = f.Close() // read only
		// Inside the record past the checkpoint.
		b[off+20] ^= 0xff
		writeAll(t, mem, seg, b)
		before := snapshotFiles(t, mem, "/db")
		d, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock(), DisableLog: true})
		if err == nil {
			_ = d.Close()
			t.Fatal("DisableLog Open of a log damaged before its end succeeded")
		}
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "cannot be read to its end") || !strings.Contains(err.Error(), "open it with its log") {
			t.Fatalf("DisableLog Open = %v, want ErrInvalidOption naming the unreadable log and the way out", err)
		}
		if after := snapshotFiles(t, mem, "/db"); after != before {
			t.Fatalf("the refused Open changed the directory:\nbefore %s\nafter  %s", before, after)
		}
	})
	t.Run("covered only by a checkpoint that does not load (refused)", func(t *testing.T) {
		mem, _, _, lsn := coveredLogDir(t, 0)
		ckpts, err := checkpoint.List(mem, "/db/checkpoints")
		if err != nil || len(ckpts) != 1 {
			t.Fatalf("checkpoints %v, %v; want one", ckpts, err)
		}
		writeAll(t, mem, ckpts[0].Path, []byte("not a checkpoint"))
		d, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock(), DisableLog: true})
		if err == nil {
			_ = d.Close()
			t.Fatalf("DisableLog Open whose only checkpoint (LSN %d) does not load succeeded over a log holding LSN 1..%d", lsn, lsn)
		}
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "operations from LSN 1") {
			t.Fatalf("DisableLog Open = %v, want ErrInvalidOption naming LSN 1", err)
		}
		if has, err := tlog.HasSegment(mem, "/db/wal"); err != nil || !has {
			t.Fatalf("after the refusal wal/ holds a segment: %v, %v; want it kept", has, err)
		}
	})
}

// snapshotFiles lists every file under dir with its size, for comparing a
// directory before and after an operation that must change nothing.
func snapshotFiles(t *testing.T, fs vfs.FS, dir string) string {
	t.Helper()
	var b strings.Builder
	var walk func(d string)
	walk = func(d string) {
		names, err := fs.List(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			p := fs.Join(d, name)
			if _, err := fs.List(p); err == nil {
				walk(p)
				continue
			}
			f, err := fs.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			n, err := f.Size()
			_ = f.Close() // read only
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s:%d ", p, n)
		}
	}
	walk(dir)
	return b.String()
}

// TestDisableLogCrashAtEveryStep: a DisableLog Open over a log its
// checkpoint covers records "no log", then removes the segments. A crash
// image (three ways of keeping unsynced entries, torn tails, two seeds)
// before every filesystem operation of that Open that changes the files,
// and after it, must lose
// nothing, whatever reads it next: an Open with the log, Replay,
// QueryLogDir and a DisableLog Open each come to the checkpoint's state,
// and the DisableLog Open leaves no segment beside "no log".
func TestDisableLogCrashAtEveryStep(t *testing.T) {
	for _, entries := range []vfs.EntryMode{vfs.DropUnsyncedEntries, vfs.KeepUnsyncedEntries, vfs.RandomUnsyncedEntries} {
		t.Run(fmt.Sprintf("entries %d", entries), func(t *testing.T) {
			mem, id, want, lsn := coveredLogDir(t, 0)
			type image struct {
				when string
				fs   func() *vfs.MemFS
			}
			var images []image
			take := func(when string) {
				for seed := range int64(2) {
					o := vfs.CrashOptions{Seed: seed, Entries: entries, TornTail: true}
					img := mem.CrashCloneWith(o)
					images = append(images, image{fmt.Sprintf("%s, seed %d", when, seed), func() *vfs.MemFS { return img.CrashClone() }})
				}
			}
			ops, removes := 0, 0
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				switch op.Kind {
				case errorfs.OpOpen, errorfs.OpList, errorfs.OpRead, errorfs.OpSize, errorfs.OpClose, errorfs.OpLock:
					return nil // changes nothing on disk: the image before the next change is the same
				case errorfs.OpRemove:
					removes++
				}
				ops++
				take(fmt.Sprintf("before change %d (%v)", ops, op))
				return nil
			}))
			d, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Clock: testClock(), DisableLog: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			take("after Open")
			if removes < 3 {
				t.Fatalf("the DisableLog Open removed %d files: the crash points between removals were not visited", removes)
			}
			check := func(what string, e *Bus, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if got := readPage(t, e, id); e.LastLSN() != lsn || string(got) != string(want) {
					t.Fatalf("%s: LSN %d, want %d (page equal: %v)", what, e.LastLSN(), lsn, string(got) == string(want))
				}
				if err := e.Close(); err != nil {
					t.Fatalf("%s: close: %v", what, err)
				}
			}
			for _, img := range images {
				r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: img.fs()})
				check("crash "+img.when+": Replay", r, err)
				qerr := QueryLogDir(ctx, img.fs(), "/db", LogQuery{}, func(*LoggedOp) bool { return true })
				// Once "no log" is recorded and every segment is gone, the
				// directory holds no operation: QueryLogDir says so, as
				// Bus.QueryLog of a bus without a log does
				// (TestQueryLogDirWrittenWithoutLog); before that, the
				// segments left are read.
				qfs := img.fs()
				mode, merr := tlog.ReadMode(qfs, "/db/checkpoints")
				has, herr := tlog.HasSegment(qfs, "/db/wal")
				if merr == nil && mode == tlog.ModeNoLog && herr == nil && !has {
					if !errors.Is(qerr, ErrLogTruncated) {
						t.Fatalf("crash %s: QueryLogDir of a directory without a log = %v, want ErrLogTruncated", img.when, qerr)
					}
				} else if qerr != nil {
					t.Fatalf("crash %s: QueryLogDir: %v", img.when, qerr)
				}
				l, err := Open("/db", &Options{FS: img.fs(), CheckpointBytes: -1, Clock: testClock()})
				check("crash "+img.when+": Open with the log", l, err)
				nfs := img.fs()
				n, err := Open("/db", &Options{FS: nfs, CheckpointBytes: -1, Clock: testClock(), DisableLog: true})
				check("crash "+img.when+": DisableLog Open", n, err)
				if has, err := tlog.HasSegment(nfs, "/db/wal"); err != nil || has {
					t.Fatalf("crash %s: after the DisableLog Open wal/ holds a segment: %v, %v", img.when, has, err)
				}
				if m, err := tlog.ReadMode(nfs, "/db/checkpoints"); err != nil || m != tlog.ModeNoLog {
					t.Fatalf("crash %s: after the DisableLog Open the log mode is %v, %v", img.when, m, err)
				}
			}
			t.Logf("%d crash points (%d removals), %d images", ops+1, removes, len(images))
		})
	}
}

// TestDisableLogRefusesUnloadableCheckpoint: a bus without a log has
// nothing past its checkpoints, so when the newest one does not load the
// state it held is lost. A DisableLog Open opened at the older checkpoint
// anyway (page "A" written and checkpointed came back zero), or empty when
// none loaded, saying so only in Recovery().SkippedCheckpoint, and its
// next commits took the lost LSNs. It is ErrCorruption naming the
// checkpoint now; Options.Repair accepts the older state and removes the
// damaged checkpoint, as with a log.
func TestDisableLogRefusesUnloadableCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damaged int // how many of the two checkpoints, newest first
		repair  bool
		want    string // in the refusal; "": opens
	}{
		{name: "newest damaged", damaged: 1, want: "checkpoint-00000000000000000002.ckpt (LSN 2) does not load"},
		{name: "both damaged", damaged: 2, want: "no checkpoint could be loaded"},
		{name: "newest damaged, Repair", damaged: 1, repair: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			o := Options{FS: mem, CheckpointBytes: -1, Clock: testClock(), DisableLog: true}
			e, err := Open("/db", &o)
			if err != nil {
				t.Fatal(err)
			}
			id := mustCreate(t, e, 1, 8)[0]
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte("A"))}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			ckpts, err := checkpoint.List(mem, "/db/checkpoints")
			if err != nil || len(ckpts) != 2 {
				t.Fatalf("checkpoints %v, %v; want two", ckpts, err)
			}
			for _, c := range ckpts[:tc.damaged] {
				writeAll(t, mem, c.Path, []byte("not a checkpoint"))
			}
			o.Repair = tc.repair
			d, err := Open("/db", &o)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("DisableLog Open with Repair: %v", err)
				}
				defer d.Close()
				if d.LastLSN() != 1 || mem.Exists(ckpts[0].Path) {
					t.Fatalf("DisableLog Open with Repair: LSN %d (want 1), damaged checkpoint kept: %v", d.LastLSN(), mem.Exists(ckpts[0].Path))
				}
				return
			}
			if err == nil {
				defer d.Close()
				t.Fatalf("DisableLog Open with %d damaged checkpoint(s) opened at LSN %d (page 1 holds \"A\" at LSN 2), skipping %v", tc.damaged, d.LastLSN(), d.Recovery().SkippedCheckpoint)
			}
			if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DisableLog Open = %v, want ErrCorruption containing %q", err, tc.want)
			}
		})
	}
}

// TestDisableLogRefusesMissingFunctions: Open refuses a directory whose
// derived pages are bound to functions not registered (ErrUnknownFunc,
// unless Options.AllowMissingFunctions), and lists them in
// Recovery().MissingFunctions; a DisableLog Open skipped both: it opened,
// listing nothing, and every wave then failed on those pages. It is the
// same refusal now; with AllowMissingFunctions it opens and lists them.
func TestDisableLogRefusesMissingFunctions(t *testing.T) {
	mem := vfs.NewMem()
	fn := func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil }
	o := Options{FS: mem, CheckpointBytes: -1, Clock: testClock(), DisableLog: true, Functions: map[string]RecomputeFunc{"mine": fn}}
	e, err := Open("/db", &o)
	if err != nil {
		t.Fatal(err)
	}
	ids := mustCreate(t, e, 2, 8)
	if err := e.Bind(ctx, ids[1], "mine", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	o.Functions = nil
	d, err := Open("/db", &o)
	if err == nil {
		_ = d.Close()
		t.Fatalf("DisableLog Open of a page bound to an unregistered function succeeded (missing functions listed: %v)", d.Recovery().MissingFunctions)
	}
	if !errors.Is(err, ErrUnknownFunc) || !strings.Contains(err.Error(), "page 2: mine") {
		t.Fatalf("DisableLog Open = %v, want ErrUnknownFunc naming page 2: mine", err)
	}
	o.AllowMissingFunctions = true
	d, err = Open("/db", &o)
	if err != nil {
		t.Fatalf("DisableLog Open with AllowMissingFunctions: %v", err)
	}
	defer d.Close()
	if got := d.Recovery().MissingFunctions; len(got) != 1 || got[0] != "page 2: mine" {
		t.Fatalf("Recovery().MissingFunctions = %q, want [page 2: mine]", got)
	}
}

// TestLogModeNotAFile: checkpoints/log-mode replaced by a directory (a
// stray copy, a botched restore) was "mmsb: tlog: open …/log-mode: not a
// regular file but a directory" from Open with a log, no ErrCorruption and
// no way out named, and a DisableLog Open failed at WriteMode's rename
// ("rename …/log-mode.tmp: file exists"), leaving the temporary behind.
// Both are ErrCorruption naming the file now, as a damaged one is, and
// nothing is written.
func TestLogModeNotAFile(t *testing.T) {
	for _, noLog := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableLog %v", noLog), func(t *testing.T) {
			dir := t.TempDir()
			e, err := Open(dir, &Options{CheckpointBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			mode := vfs.Default.Join(dir, "checkpoints", tlog.ModeFileName)
			if err := vfs.Default.Remove(mode); err != nil {
				t.Fatal(err)
			}
			if err := vfs.Default.MkdirAll(mode); err != nil {
				t.Fatal(err)
			}
			d, err := Open(dir, &Options{CheckpointBytes: -1, DisableLog: noLog})
			if err == nil {
				_ = d.Close()
				t.Fatal("Open with checkpoints/log-mode a directory succeeded")
			}
			if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), mode) || !strings.Contains(err.Error(), "remove it") {
				t.Fatalf("Open = %v, want ErrCorruption naming %s and the way out", err, mode)
			}
			if vfs.Default.Exists(mode + ".tmp") {
				t.Fatalf("the refused Open left %s.tmp", mode)
			}
		})
	}
}
