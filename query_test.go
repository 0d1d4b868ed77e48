package mmsb

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

func TestQueryLog(t *testing.T) {
	e := openT(t, "", nil)
	defer e.Close()
	mustCreate(t, e, 3, 32)
	var times []int64
	for i := 0; i < 6; i++ {
		d := w(PageID(1+i%3), i, "q")
		d.Source = []string{"api", "sensor"}[i%2]
		ci, err := e.Commit(ctx, []delta.Delta{d})
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, ci.Time)
	}
	count := func(q LogQuery) (n int, lsns []LSN) {
		t.Helper()
		err := e.QueryLog(ctx, q, func(op *LoggedOp) bool {
			n++
			lsns = append(lsns, op.LSN)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, lsns
	}
	cases := []struct {
		name string
		q    LogQuery
		want int
	}{
		{"everything", LogQuery{}, 9},
		{"page 1", LogQuery{Page: 1}, 3}, // create + 2 deltas
		{"deltas only", LogQuery{Kinds: []OpKind{OpDelta}}, 6},
		{"source", LogQuery{Source: "sensor"}, 3},
		{"LSN range", LogQuery{FromLSN: 4, ToLSN: 6}, 3},
		{"time range", LogQuery{FromTime: times[1], ToTime: times[3]}, 3},
		{"page and source", LogQuery{Page: 2, Source: "sensor"}, 1},
	}
	for _, c := range cases {
		if n, lsns := count(c.q); n != c.want {
			t.Errorf("%s: %d ops %v, want %d", c.name, n, lsns, c.want)
		}
	}
	// Early stop.
	n := 0
	_ = e.QueryLog(ctx, LogQuery{}, func(*LoggedOp) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("callback returning false did not stop the query: %d calls", n)
	}
}

// TestQueryLogFromTrimmedLSN: a query from an LSN whose segments a
// checkpoint removed is ErrLogTruncated before any operation is handed
// over, from the bus and from the directory alike; it once answered from
// the log's first remaining LSN, passing the gap off as the whole history.
// Queries from the oldest LSN on, or with no FromLSN, still answer.
func TestQueryLogFromTrimmedLSN(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, &Options{SegmentBytes: 4096, CheckpointBytes: -1})
	defer e.Close()
	p := mustCreate(t, e, 1, 1024)
	for round := range 2 { // the log is trimmed to the older checkpoint kept
		for i := range 40 { // 36 KB of deltas: several segments
			if _, err := e.Commit(ctx, []delta.Delta{w(p[0], 0, string(make([]byte, 900+i+round)))}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(p[0], 0, "after")}); err != nil {
		t.Fatal(err)
	}
	oldest := e.Stats().Log.OldestLSN
	if oldest <= 2 {
		t.Fatalf("precondition: the checkpoint left the log from LSN %d", oldest)
	}
	query := func(via string, q LogQuery) (int, error) {
		n := 0
		fn := func(*LoggedOp) bool { n++; return true }
		if via == "bus" {
			return n, e.QueryLog(ctx, q, fn)
		}
		return n, QueryLogDir(ctx, e.FS(), dir, q, fn)
	}
	for _, via := range []string{"bus", "dir"} {
		for _, tc := range []struct {
			q         LogQuery
			truncated bool
			n         int
		}{
			{LogQuery{FromLSN: 1}, true, 0},
			{LogQuery{FromLSN: oldest - 1, ToLSN: oldest + 1}, true, 0},
			{LogQuery{FromLSN: oldest}, false, int(e.LastLSN() - oldest + 1)},
			{LogQuery{}, false, int(e.LastLSN() - oldest + 1)},
			{LogQuery{FromLSN: e.LastLSN() + 1}, false, 0},
		} {
			n, err := query(via, tc.q)
			if errors.Is(err, ErrLogTruncated) != tc.truncated || (!tc.truncated && err != nil) || n != tc.n {
				t.Errorf("%s: from %d to %d: %d ops, %v; want %d ops, truncated %v", via, tc.q.FromLSN, tc.q.ToLSN, n, err, tc.n, tc.truncated)
			}
		}
	}
	// The bus's error names the oldest LSN the log holds (it named the
	// last LSN + 1).
	if _, err := query("bus", LogQuery{FromLSN: 1}); !strings.Contains(err.Error(), fmt.Sprintf("holds none before LSN %d", oldest)) {
		t.Errorf("bus, from LSN 1: %v; want it to name the oldest LSN held, %d", err, oldest)
	}
	// A bus without a log holds no history at all.
	nolog := openMem(t, &Options{DisableLog: true})
	mustCreate(t, nolog, 1, 8)
	if err := nolog.QueryLog(ctx, LogQuery{FromLSN: 1}, func(*LoggedOp) bool { return true }); !errors.Is(err, ErrLogTruncated) {
		t.Errorf("a bus without a log, from LSN 1: %v, want ErrLogTruncated", err)
	}
}

// TestQueryLogPastLastReadsNothing: a query from an LSN past the last
// committed one answers nothing without opening the log (it read every
// segment looking for the LSN): here every log open fails, and the query
// still answers; the control, from LSN 1, hits the failure.
func TestQueryLogPastLastReadsNothing(t *testing.T) {
	tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpOpen, errorfs.ErrInjected))
	e := openT(t, "/db", &Options{FS: errorfs.Wrap(vfs.NewMem(), tog), CheckpointBytes: -1})
	defer e.Close()
	p := mustCreate(t, e, 1, 8)
	commitT(t, e, w(p[0], 0, "x"))
	tog.On()
	defer tog.Off()
	n := 0
	if err := e.QueryLog(ctx, LogQuery{FromLSN: e.LastLSN() + 1}, func(*LoggedOp) bool { n++; return true }); err != nil || n != 0 {
		t.Fatalf("QueryLog past the last LSN: %d ops, %v; want none and no error", n, err)
	}
	if err := e.QueryLog(ctx, LogQuery{FromLSN: 1}, func(*LoggedOp) bool { return true }); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("QueryLog from LSN 1 with log opens failing: %v, want the injected error", err)
	}
}
