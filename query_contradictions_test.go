package mmsb

import (
	"errors"
	"strings"
	"testing"
)

// TestQueryContradictionsRefused: a log query that contradicts itself
// (reversed times, a kind that is not one) is ErrInvalidOption naming the
// fields, from QueryLog and QueryLogDir alike (each answered nothing, which
// reads as "no such operation"). The control: the same bounds the right
// way round find the operations. An empty LSN range is not refused: it
// selects nothing.
func TestQueryContradictionsRefused(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, &Options{CheckpointBytes: -1})
	defer func() { _ = e.Close() }()
	id, err := e.CreatePage(ctx, PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{1})}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q LogQuery, dirQuery bool) (int, error) {
		n := 0
		fn := func(*LoggedOp) bool { n++; return true }
		if dirQuery {
			return n, QueryLogDir(ctx, e.fs, dir, q, fn)
		}
		return n, e.QueryLog(ctx, q, fn)
	}
	for _, tc := range []struct {
		name, want string
		q, control LogQuery
	}{
		{"reversed times", "ToTime 1 is before FromTime 2", LogQuery{FromTime: 2, ToTime: 1}, LogQuery{FromTime: 1}},
		{"unknown kind", "Kinds[1] is op(99)", LogQuery{Kinds: []OpKind{OpDelta, 99}}, LogQuery{Kinds: []OpKind{OpDelta}}},
		{"kind zero", "Kinds[0] is op(0)", LogQuery{Kinds: []OpKind{0}}, LogQuery{Kinds: []OpKind{OpCreatePage}}},
	} {
		for _, dirQuery := range []bool{false, true} {
			n, err := count(tc.q, dirQuery)
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) || n != 0 {
				t.Errorf("%s (dir %v): %d operations, %v; want ErrInvalidOption naming %q", tc.name, dirQuery, n, err, tc.want)
			}
			if n, err := count(tc.control, dirQuery); err != nil || n == 0 {
				t.Errorf("control %s (dir %v): %d operations, %v", tc.name, dirQuery, n, err)
			}
		}
	}
	if n, err := count(LogQuery{FromLSN: 4, ToLSN: 3}, false); err != nil || n != 0 {
		t.Errorf("empty LSN range: %d operations, %v; want none and no error", n, err)
	}
}
