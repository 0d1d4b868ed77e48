package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestReplayRefusesMissingLogDir: Replay of a directory whose wal/ was
// removed read the missing log as an empty one and answered with the
// newest checkpoint's state (LSN 5 of 9), and `mmsb replay --out` wrote
// that as an intact directory: the loss went unreported. It is
// ErrCorruption naming wal/ now, as Open's refusal. Repair, an empty wal/
// made by hand, and DisableLog (a directory written without a log) replay
// the checkpoint, as Open opens it; a live bus without a log replays its
// own directory (it was opened, so nothing is refused).
func TestReplayRefusesMissingLogDir(t *testing.T) {
	for _, tc := range []struct {
		name               string
		remove, remake     bool
		repair, disableLog bool
		refused            bool
		wantLSN            LSN
	}{
		{name: "intact (control)", wantLSN: 9},
		{name: "wal removed", remove: true, refused: true},
		{name: "wal removed, Repair", remove: true, repair: true, wantLSN: 5},
		{name: "wal removed, DisableLog", remove: true, disableLog: true, wantLSN: 5},
		// An emptied log since checkpoints/log-mode (TestEmptiedLogRefused).
		{name: "wal removed and made again empty", remove: true, remake: true, refused: true},
		{name: "wal removed and made again empty, Repair", remove: true, remake: true, repair: true, wantLSN: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := logRemovedDir(t, tc.remove, tc.remake)
			r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs, Repair: tc.repair, DisableLog: tc.disableLog})
			if tc.refused {
				if err == nil {
					defer r.Close()
					t.Fatalf("Replay of a directory without wal/ = LSN %d, want ErrCorruption", r.LastLSN())
				}
				want := "has checkpoints/ but no wal/"
				if tc.remake {
					want = "holds no log segment"
				}
				if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "/db/wal") {
					t.Fatalf("Replay = %v, want ErrCorruption naming /db/wal and saying %q", err, want)
				}
				if !tc.remake && fs.Exists("/db/wal") {
					t.Fatal("the refused Replay made wal/")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := r.LastLSN(); got != tc.wantLSN {
				t.Fatalf("Replay LastLSN = %d, want %d", got, tc.wantLSN)
			}
		})
	}
}

// TestReplayOfBusWithoutLog: a bus opened with DisableLog on a directory
// writes checkpoints and an empty wal/ (since 2026-12-06; it made none
// before, so its directory read as one whose log was removed, refused by
// Open, Replay and every CLI command that reads a directory). Its own
// Replay works; the package-level Replay and Open with a log read the
// directory as its newest checkpoint, with no option. A directory written
// before, without wal/, needs DisableLog (or an empty wal/) to be read.
func TestReplayOfBusWithoutLog(t *testing.T) {
	fs := vfs.NewMem()
	e, err := Open("/db", &Options{FS: fs, DisableLog: true, CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	id := mustCreate(t, e, 1, 16)[0]
	if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte{7})}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if names, err := fs.List("/db/wal"); err != nil || len(names) != 0 {
		t.Fatalf("a bus without a log left wal/ holding %v (%v), want it there and empty", names, err)
	}
	own, err := e.Replay(ctx, ReplayTarget{})
	if err != nil {
		t.Fatalf("Bus.Replay of a bus without a log: %v", err)
	}
	if own.LastLSN() != e.LastLSN() {
		t.Errorf("Bus.Replay LastLSN %d, want %d", own.LastLSN(), e.LastLSN())
	}
	own.Close()
	want := e.LastLSN()
	readsSeven := func(what string, b *Bus) {
		t.Helper()
		if b.LastLSN() != want {
			t.Errorf("%s: LastLSN %d, want %d", what, b.LastLSN(), want)
		}
		if got, _, err := b.ReadPage(id, nil); err != nil || len(got) == 0 || got[0] != 7 {
			t.Errorf("%s: page %d = %v, %v; want its checkpointed byte 7", what, id, got, err)
		}
	}
	r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs})
	if err != nil {
		t.Fatalf("Replay of a directory written without a log: %v", err)
	}
	readsSeven("Replay", r)
	r.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1})
	if err != nil {
		t.Fatalf("Open with a log of a directory written without one: %v", err)
	}
	readsSeven("Open", b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// Written before 2026-12-06: no wal/. (Open above made one again,
	// holding the log it kept; a fresh directory is written for this.)
	fs = vfs.NewMem()
	e2, err := Open("/db", &Options{FS: fs, DisableLog: true, CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	id = mustCreate(t, e2, 1, 16)[0]
	if _, err := e2.Commit(ctx, []Delta{Write(id, 0, []byte{7})}); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	want = e2.LastLSN()
	if err := e2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove("/db/wal"); err != nil {
		t.Fatal(err)
	}
	// Nor its log-mode file, whose "no log" tells that the missing wal/
	// lost nothing (TestNoLogDirectoryWithoutWalDir).
	if err := fs.Remove("/db/checkpoints/" + tlog.ModeFileName); err != nil {
		t.Fatal(err)
	}
	if _, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs}); !errors.Is(err, ErrCorruption) {
		t.Errorf("Replay without DisableLog of a directory without wal/ = %v, want ErrCorruption", err)
	}
	r, err = Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs, DisableLog: true})
	if err != nil {
		t.Fatalf("Replay with DisableLog: %v", err)
	}
	readsSeven("Replay with DisableLog", r)
	r.Close()
}

// TestQueryLogDirRefusesMissingLogDir: QueryLogDir of a directory whose
// wal/ was removed answered no operation and no error, from any LSN: a
// log holding nothing. It is ErrCorruption naming wal/ now, as Open and
// Replay refuse the directory, and so is an empty wal/ made by hand (an
// emptied log since checkpoints/log-mode); the intact directory answers
// its operations (the control).
func TestQueryLogDirRefusesMissingLogDir(t *testing.T) {
	for _, tc := range []struct {
		name           string
		remove, remake bool
		refused        bool
		wantOps        int
	}{
		{name: "intact (control)", wantOps: 9},
		{name: "wal removed", remove: true, refused: true},
		// An emptied log since checkpoints/log-mode (TestEmptiedLogRefused).
		{name: "wal removed and made again empty", remove: true, remake: true, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := logRemovedDir(t, tc.remove, tc.remake)
			n := 0
			err := QueryLogDir(ctx, fs, "/db", LogQuery{}, func(*LoggedOp) bool { n++; return true })
			if tc.refused {
				want := "has checkpoints/ but no wal/"
				if tc.remake {
					want = "/db/wal holds no log segment"
				}
				if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), want) {
					t.Fatalf("QueryLogDir = %d operation(s), %v; want ErrCorruption saying %q", n, err, want)
				}
				return
			}
			if err != nil || n != tc.wantOps {
				t.Fatalf("QueryLogDir = %d operation(s), %v; want %d", n, err, tc.wantOps)
			}
		})
	}
}
