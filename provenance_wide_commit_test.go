package mmsb

import (
	"slices"
	"testing"
)

// wideCommitBus returns a bus with a page bound to n parents whose
// writes were logged in one commit, in reverse page order when reverse
// (so that the parents' LSNs fall along the page's read list), after a
// propagation.
func wideCommitBus(tb testing.TB, n int, reverse bool) (*Bus, PageID) {
	tb.Helper()
	e := openMem(tb, &Options{Functions: incFuncs})
	specs := make([]PageSpec, n+1)
	for i := range specs {
		specs[i] = PageSpec{Size: 1}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		tb.Fatal(err)
	}
	child, srcs := ids[0], ids[1:]
	if err := e.Bind(ctx, child, "inc", nil, srcs); err != nil {
		tb.Fatal(err)
	}
	ds := make([]Delta, 0, n)
	for _, p := range srcs {
		ds = append(ds, w(p, 0, "x"))
	}
	if reverse {
		slices.Reverse(ds)
	}
	if _, err := e.Commit(ctx, ds); err != nil {
		tb.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil {
		tb.Fatal(err)
	}
	return e, child
}

// TestProvenanceWideCommitDecodesEachOpOnce: a query over the parents of
// a page bound to 4,106 pages written in one commit decodes each op of
// that record about once, whichever LSN order the parents come in: it
// decoded the record up to each parent's write, about N²/2 = 8.4 million
// ops (0.27 s, 31 s under -race).
func TestProvenanceWideCommitDecodesEachOpOnce(t *testing.T) {
	const n = MaxProvenanceWrites + 10
	for _, reverse := range []bool{false, true} {
		e, child := wideCommitBus(t, n, reverse)
		decoded := -1
		provQueryDoneHook = func(ops int) { decoded = ops }
		r, err := e.ProvenanceWith(ctx, child, 0, 1, ProvenanceOptions{})
		provQueryDoneHook = nil
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Writes) != MaxProvenanceWrites || !r.Truncated {
			t.Fatalf("reverse %v: %d writes, truncated %v; want %d, true", reverse, len(r.Writes), r.Truncated, MaxProvenanceWrites)
		}
		for i, w := range r.Writes[1:] {
			if w.Lost || w.Derived || w.Kind != OpDelta || w.Lo != 0 || w.Hi != 1 || !w.Exact || w.Parent != 0 {
				t.Fatalf("reverse %v: parent write %d: %+v", reverse, i, w)
			}
		}
		t.Logf("reverse %v: %d ops decoded, %d log scans", reverse, decoded, r.LogScans)
		if decoded < 0 || decoded > 2*n+64 {
			t.Fatalf("reverse %v: the query decoded %d log ops for %d parent writes in one record, want at most %d", reverse, decoded, n, 2*n+64)
		}
		e.Close()
	}
}

// BenchmarkProvenanceWideCommit: one query over the 4,095 listed parents
// of a page bound to 4,106 pages written in one commit.
func BenchmarkProvenanceWideCommit(b *testing.B) {
	e, child := wideCommitBus(b, MaxProvenanceWrites+10, false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.ProvenanceWith(ctx, child, 0, 1, ProvenanceOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
