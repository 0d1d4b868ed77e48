package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestRefusalOfDirectoryWithoutLogNamesDisableLog: a bus opened with
// DisableLog wrote checkpoints and no wal/ until 2026-12-06 (it makes an
// empty wal/ now), as a directory whose log was removed holds; Open,
// Replay and QueryLogDir refuse such a directory (ErrCorruption) unless
// told. The refusal named only the loss (restore wal/, Repair, or
// make it empty to accept the loss), so the owner of a directory written
// without a log, which lost nothing, was told it had lost data and not
// how to read it: every CLI command reading the directory (inspect, read,
// replay, graph, validate) failed so. It names DisableLog now.
func TestRefusalOfDirectoryWithoutLogNamesDisableLog(t *testing.T) {
	fs := vfs.NewMem()
	e, err := Open("/db", &Options{FS: fs, DisableLog: true, CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	id := mustCreate(t, e, 1, 16)[0]
	commitOK(t, e, Write(id, 0, []byte{7}))
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// As the directory was written before 2026-12-06 (see
	// TestReplayOfBusWithoutLog for one written now): no wal/, and no
	// checkpoints/log-mode, whose "no log" tells that the missing wal/
	// lost nothing (TestNoLogDirectoryWithoutWalDir).
	if err := fs.Remove("/db/wal"); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove("/db/checkpoints/" + tlog.ModeFileName); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{name: "Open", call: func() error {
			b, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1})
			if err == nil {
				b.Close()
			}
			return err
		}},
		{name: "Replay", call: func() error {
			r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs})
			if err == nil {
				r.Close()
			}
			return err
		}},
		{name: "QueryLogDir", call: func() error {
			return QueryLogDir(ctx, fs, "/db", LogQuery{}, func(*LoggedOp) bool { return true })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), "/db/wal") || !strings.Contains(err.Error(), "DisableLog") {
				t.Fatalf("%s = %v; want ErrCorruption naming /db/wal and DisableLog (the way to read a directory written without a log)", tc.name, err)
			}
		})
	}
	// What the error says works.
	r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: fs, DisableLog: true})
	if err != nil {
		t.Fatalf("Replay with DisableLog: %v", err)
	}
	r.Close()
	b, err := Open("/db", &Options{FS: fs, DisableLog: true, CheckpointBytes: -1})
	if err != nil {
		t.Fatalf("Open with DisableLog: %v", err)
	}
	if got, _, err := b.ReadPage(id, nil); err != nil || len(got) == 0 || got[0] != 7 {
		t.Errorf("Open with DisableLog: page %d = %v, %v; want its checkpointed byte 7", id, got, err)
	}
	b.Close()
}
