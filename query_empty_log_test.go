package mmsb

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestQueryLogDirEmptyLogAfterCheckpoint: a directory written without a
// log (Options.DisableLog) and then opened with one holds a log segment
// with no record, named for the LSN after its checkpoint. QueryLogDir
// from an LSN before it is ErrLogTruncated, as Bus.QueryLog answers the
// open bus: before, it answered no operation and nil, as if the LSNs the
// checkpoint holds had never been committed.
func TestQueryLogDirEmptyLogAfterCheckpoint(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, &Options{CheckpointBytes: -1})
	mustCreate(t, e, 2, 8)
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	last := e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	count := func(q LogQuery) (int, error) {
		n := 0
		err := QueryLogDir(ctx, vfs.Default, dir, q, func(*LoggedOp) bool { n++; return true })
		return n, err
	}
	// Through a bus without a log (its segments go).
	if err := openT(t, dir, &Options{DisableLog: true, CheckpointBytes: -1}).Close(); err != nil {
		t.Fatal(err)
	}
	// A crash in the Open with a log after it made its segment, before
	// it wrote "log" in checkpoints/log-mode: "no log" beside a segment
	// with no record, named for last+1.
	if err := tlog.CreateEmptySegment(vfs.Default, filepath.Join(dir, "wal"), last+1); err != nil {
		t.Fatal(err)
	}
	if n, err := count(LogQuery{FromLSN: 1}); !errors.Is(err, ErrLogTruncated) {
		t.Errorf("crashed Open: QueryLogDir(FromLSN 1) of a log that starts at LSN %d = %d operation(s), %v; want ErrLogTruncated", last+1, n, err)
	}
	// The Open with a log, whole.
	if err := openT(t, dir, &Options{CheckpointBytes: -1}).Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := count(LogQuery{FromLSN: 1}); !errors.Is(err, ErrLogTruncated) {
		t.Errorf("QueryLogDir(FromLSN 1) of a log that starts at LSN %d = %d operation(s), %v; want ErrLogTruncated", last+1, n, err)
	}
	if n, err := count(LogQuery{FromLSN: last}); !errors.Is(err, ErrLogTruncated) {
		t.Errorf("QueryLogDir(FromLSN %d) of a log that starts at LSN %d = %d operation(s), %v; want ErrLogTruncated", last, last+1, n, err)
	}
	// From where the log starts, or from its start (FromLSN 0): nothing
	// was committed since, and that is the answer.
	for _, q := range []LogQuery{{}, {FromLSN: last + 1}, {FromLSN: last + 5}} {
		if n, err := count(q); n != 0 || err != nil {
			t.Errorf("QueryLogDir(FromLSN %d) = %d operation(s), %v; want none, nil", q.FromLSN, n, err)
		}
	}
	// The open bus answers the same.
	e = openT(t, dir, &Options{CheckpointBytes: -1})
	if err := e.QueryLog(ctx, LogQuery{FromLSN: 1}, func(*LoggedOp) bool { return true }); !errors.Is(err, ErrLogTruncated) {
		t.Errorf("Bus.QueryLog(FromLSN 1) = %v, want ErrLogTruncated", err)
	}
	// A log that holds LSN 1 still answers from it.
	fresh := t.TempDir()
	f := openT(t, fresh, &Options{CheckpointBytes: -1})
	mustCreate(t, f, 2, 8)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := QueryLogDir(ctx, vfs.Default, fresh, LogQuery{FromLSN: 1}, func(*LoggedOp) bool { n++; return true }); err != nil || n != 2 {
		t.Errorf("QueryLogDir(FromLSN 1) of a whole log = %d operation(s), %v; want 2, nil", n, err)
	}
}
