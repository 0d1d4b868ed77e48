package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestEmptiedLogRefused: `rm DIR/wal/*` (every segment removed, wal/ left)
// lost every operation committed after the newest checkpoint, and Open,
// Replay and QueryLogDir read it as a log holding nothing past that
// checkpoint: the state went back to it and the next commits reused the
// lost LSNs. A bus with a log now keeps a segment and records
// checkpoints/log-mode (tlog.ModeLog), so such a directory is
// ErrCorruption naming wal/. Every legitimate directory still opens and
// replays: a DisableLog bus's, a fresh bus's, a reopened one's, one whose
// only segment is empty (a checkpoint trimmed the others after a
// rotation), a directory written before log-mode existed or by a
// replica's bootstrap (checkpoint beside an empty wal/, no mode file), and
// the emptied one with Repair or DisableLog, which accept the loss.
func TestEmptiedLogRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, fs vfs.FS)
		opts    Options
		refused bool
		wantLSN int // after Open and of Replay
	}{
		{name: "intact (control)", wantLSN: 9},
		{name: "segments removed", prepare: emptyWAL, refused: true},
		{name: "segments removed, Repair", prepare: emptyWAL, opts: Options{Repair: true}, wantLSN: 5},
		{name: "segments removed, DisableLog", prepare: emptyWAL, opts: Options{DisableLog: true}, wantLSN: 5},
		{name: "only segment empty at checkpoint+1", prepare: func(t *testing.T, fs vfs.FS) {
			emptyWAL(t, fs)
			if err := tlog.CreateEmptySegment(fs, "/db/wal", 6); err != nil {
				t.Fatal(err)
			}
		}, wantLSN: 5},
		{name: "no log-mode file (written before it, or a bootstrap)", prepare: func(t *testing.T, fs vfs.FS) {
			emptyWAL(t, fs)
			if err := fs.Remove("/db/checkpoints/" + tlog.ModeFileName); err != nil {
				t.Fatal(err)
			}
		}, wantLSN: 5},
		{name: "log-mode file damaged", prepare: func(t *testing.T, fs vfs.FS) {
			f, err := fs.Create("/db/checkpoints/" + tlog.ModeFileName)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("MMSBLOGM garbage")); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, via := range []string{"Open", "Replay", "QueryLogDir"} {
				fs := logRemovedDir(t, false, false)
				if tc.prepare != nil {
					tc.prepare(t, fs)
				}
				opts := tc.opts
				opts.FS, opts.CheckpointBytes, opts.Clock = fs, -1, testClock()
				var lsn LSN
				var err error
				switch via {
				case "Open":
					var e *Bus
					if e, err = Open("/db", &opts); err == nil {
						lsn = e.LastLSN()
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
					lsn = LSN(tc.wantLSN) // reads the log; refused or not is what counts
				}
				if tc.refused {
					if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), "/db/") {
						t.Fatalf("%s = %v, want ErrCorruption naming the directory", via, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", via, err)
				}
				if lsn != LSN(tc.wantLSN) {
					t.Fatalf("%s reached LSN %d, want %d", via, lsn, tc.wantLSN)
				}
			}
		})
	}
}

// TestEmptiedLogMessage: the refusal names wal/, the log-mode file and
// both ways to accept the loss, so its reader knows what to do.
func TestEmptiedLogMessage(t *testing.T) {
	fs := logRemovedDir(t, false, false)
	emptyWAL(t, fs)
	_, err := Open("/db", &Options{FS: fs, Clock: testClock()})
	for _, want := range []string{"/db/wal holds no log segment", "log-mode", "restore", "Options.Repair", "Options.DisableLog"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Open = %v, want an error saying %q", err, want)
		}
	}
}

// TestLegitimateDirectoriesKeepOpening: every way the bus itself leaves a
// directory holding a checkpoint reopens, with a log and (where it has
// none) without, and a bus with a log leaves a segment and ModeLog behind.
func TestLegitimateDirectoriesKeepOpening(t *testing.T) {
	write := func(t *testing.T, fs vfs.FS, opts Options, commits int) {
		t.Helper()
		opts.FS, opts.CheckpointBytes, opts.Clock = fs, -1, testClock()
		e, err := Open("/db", &opts)
		if err != nil {
			t.Fatal(err)
		}
		id := mustCreate(t, e, 1, 64)[0]
		for i := range commits {
			if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{1})}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	reopen := func(t *testing.T, fs vfs.FS, opts Options) LSN {
		t.Helper()
		opts.FS, opts.CheckpointBytes, opts.Clock = fs, -1, testClock()
		e, err := Open("/db", &opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		lsn := e.LastLSN()
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs, DisableLog: opts.DisableLog})
		if err != nil {
			t.Fatalf("Replay: %v", err)
		}
		defer r.Close()
		if r.LastLSN() != lsn {
			t.Fatalf("Replay reached LSN %d, Open %d", r.LastLSN(), lsn)
		}
		return lsn
	}
	t.Run("DisableLog", func(t *testing.T) {
		fs := vfs.NewMem()
		write(t, fs, Options{DisableLog: true}, 3)
		if m, err := tlog.ReadMode(fs, "/db/checkpoints"); err != nil || m != tlog.ModeNoLog {
			t.Fatalf("log mode = %v, %v, want %v", m, err, tlog.ModeNoLog)
		}
		if got := reopen(t, fs, Options{DisableLog: true}); got != 4 {
			t.Fatalf("LSN %d, want 4", got)
		}
		if got := reopen(t, fs, Options{}); got != 4 { // with a log: it starts at the checkpoint
			t.Fatalf("LSN %d, want 4", got)
		}
	})
	t.Run("fresh bus, then a checkpoint, reopened", func(t *testing.T) {
		fs := vfs.NewMem()
		e, err := Open("/db", &Options{FS: fs, Clock: testClock()})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		write(t, fs, Options{}, 3)
		if got := reopen(t, fs, Options{}); got != 4 {
			t.Fatalf("LSN %d, want 4", got)
		}
		if has, err := tlog.HasSegment(fs, "/db/wal"); err != nil || !has {
			t.Fatalf("wal/ holds a segment: %v, %v; want true", has, err)
		}
		if m, err := tlog.ReadMode(fs, "/db/checkpoints"); err != nil || m != tlog.ModeLog {
			t.Fatalf("log mode = %v, %v, want %v", m, err, tlog.ModeLog)
		}
	})
	t.Run("checkpoint of a small-segment log trims, reopened", func(t *testing.T) {
		fs := vfs.NewMem()
		write(t, fs, Options{SegmentBytes: 64}, 20)
		if got := reopen(t, fs, Options{SegmentBytes: 64}); got != 21 {
			t.Fatalf("LSN %d, want 21", got)
		}
	})
}

// emptyWAL removes every file in /db/wal, leaving the directory.
func emptyWAL(t *testing.T, fs vfs.FS) {
	t.Helper()
	emptyDir(t, fs, "/db/wal")
}
