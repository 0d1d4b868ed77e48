package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestDisableLogOverKeptSegment: every Open with a log now keeps a
// segment, and a DisableLog Open refused any segment, so a directory that
// a bus with a log had only opened, committing nothing, was
// ErrInvalidOption "the bus would ignore the operations it holds past the
// newest checkpoint" though its log held none (until 2026-12-06 it opened:
// its wal/ was empty). A log holding no record does not refuse it now; the
// empty segment goes (the directory is then one a bus without a log
// wrote, which `mmsb check` and the offline validators refuse beside a
// segment), and the directory reopens with a log and replays. A log
// holding a record is still refused, naming the segment and the LSN, and
// left as it was.
func TestDisableLogOverKeptSegment(t *testing.T) {
	open := func(fs vfs.FS, o Options) (*Bus, error) {
		o.FS, o.CheckpointBytes, o.Clock = fs, -1, testClock()
		return Open("/db", &o)
	}
	for _, tc := range []struct {
		name       string
		checkpoint bool // the bus with a log takes a checkpoint (of nothing)
		commit     bool // the bus with a log creates a page (LSN 1)
	}{
		{name: "opened with a log, nothing committed"},
		{name: "opened with a log, empty checkpoint", checkpoint: true},
		{name: "a logged operation (refused)", commit: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e, err := open(fs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.commit {
				mustCreate(t, e, 1, 16)
			}
			if tc.checkpoint {
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if has, err := tlog.HasSegment(fs, "/db/wal"); err != nil || !has {
				t.Fatalf("wal/ holds a segment: %v, %v; want true (the case under test)", has, err)
			}
			d, err := open(fs, Options{DisableLog: true})
			if tc.commit {
				if err == nil {
					_ = d.Close()
					t.Fatal("DisableLog Open of a log holding an operation succeeded")
				}
				if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "00000000000000000001.log") || !strings.Contains(err.Error(), "LSN 1") {
					t.Fatalf("DisableLog Open = %v, want ErrInvalidOption naming segment 00000000000000000001.log and LSN 1", err)
				}
				if has, err := tlog.HasSegment(fs, "/db/wal"); err != nil || !has {
					t.Fatalf("after the refusal wal/ holds a segment: %v, %v; want it kept", has, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DisableLog Open of a directory whose log holds no record: %v", err)
			}
			id := mustCreate(t, d, 1, 16)[0]
			if _, err := d.Commit(ctx, []Delta{Write(id, 3, []byte("X"))}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			want := d.LastLSN()
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if has, err := tlog.HasSegment(fs, "/db/wal"); err != nil || has {
				t.Fatalf("after the bus without a log wal/ holds a segment: %v, %v; want none", has, err)
			}
			if m, err := tlog.ReadMode(fs, "/db/checkpoints"); err != nil || m != tlog.ModeNoLog {
				t.Fatalf("log mode = %v, %v; want %v", m, err, tlog.ModeNoLog)
			}
			l, err := open(fs, Options{})
			if err != nil {
				t.Fatalf("Open with a log after the bus without one: %v", err)
			}
			if got := l.LastLSN(); got != want {
				t.Fatalf("Open with a log reached LSN %d, want %d", got, want)
			}
			if _, err := l.Commit(ctx, []Delta{Write(id, 4, []byte("Y"))}); err != nil {
				t.Fatal(err)
			}
			wantPage := string(readPage(t, l, id))
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs})
			if err != nil {
				t.Fatalf("Replay: %v", err)
			}
			defer r.Close()
			if got := string(readPage(t, r, id)); r.LastLSN() != want+1 || got != wantPage {
				t.Fatalf("Replay: LSN %d page %q, want LSN %d page %q", r.LastLSN(), got, want+1, wantPage)
			}
		})
	}
}

// TestNoLogDirectoryWithoutWalDir: a bus without a log leaves wal/ empty,
// and copies drop empty directories (object stores, archives, git): its
// directory copied so, checkpoints/log-mode saying "no log", was
// ErrCorruption "its log was removed" from Open, Replay and QueryLogDir,
// though it never had one. It opens now (with a log or without) and
// replays; QueryLogDir says no log holds its operations (ErrLogTruncated,
// since 2026-12-07); a directory whose log-mode says "log" without wal/
// is still refused (the control).
func TestNoLogDirectoryWithoutWalDir(t *testing.T) {
	for _, tc := range []struct {
		name    string
		noLog   bool // written by a bus without a log
		refused bool
	}{
		{name: "written without a log", noLog: true},
		{name: "written with a log (control)", refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Clock: testClock(), DisableLog: tc.noLog})
			if err != nil {
				t.Fatal(err)
			}
			id := mustCreate(t, e, 1, 16)[0]
			if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte("A"))}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			want := e.LastLSN()
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			emptyDir(t, fs, "/db/wal")
			if err := fs.Remove("/db/wal"); err != nil {
				t.Fatal(err)
			}
			r, rerr := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs})
			qerr := QueryLogDir(ctx, fs, "/db", LogQuery{}, func(*LoggedOp) bool { return true })
			o, oerr := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Clock: testClock()})
			results := []struct {
				what string
				err  error
			}{{"Replay", rerr}, {"QueryLogDir", qerr}, {"Open", oerr}}
			if tc.refused {
				for _, r := range results {
					if !errors.Is(r.err, ErrCorruption) {
						t.Errorf("%s = %v, want ErrCorruption", r.what, r.err)
					}
				}
				return
			}
			for _, r := range results {
				if r.what == "QueryLogDir" {
					// No log holds its operations: ErrLogTruncated, as
					// Bus.QueryLog of a bus without a log answers
					// (TestQueryLogDirWrittenWithoutLog), not the
					// corruption of a log removed.
					if !errors.Is(r.err, ErrLogTruncated) || errors.Is(r.err, ErrCorruption) {
						t.Errorf("QueryLogDir of a directory without a log, copied without its empty wal/: %v, want ErrLogTruncated", r.err)
					}
					continue
				}
				if r.err != nil {
					t.Errorf("%s of a directory without a log, copied without its empty wal/: %v", r.what, r.err)
				}
			}
			if rerr == nil {
				if r.LastLSN() != want {
					t.Errorf("Replay reached LSN %d, want %d", r.LastLSN(), want)
				}
				_ = r.Close()
			}
			if oerr == nil {
				if o.LastLSN() != want {
					t.Errorf("Open reached LSN %d, want %d", o.LastLSN(), want)
				}
				if err := o.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
