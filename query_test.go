package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
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
