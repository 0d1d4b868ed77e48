package mmsb

import (
	"math"
	"slices"
	"testing"
)

// TestBindingParentsRange: BindingParents returns the parents[offset:
// offset+limit] of a binding (cut at its end), the total, and ok; an
// offset below 0 counts as 0, one past the end and a limit of 0 or less
// return none and the total; a limit of the largest int does not
// overflow; an unbound page is not ok. It copies only the parents
// returned: one allocation of their size.
func TestBindingParentsRange(t *testing.T) {
	e := openT(t, "", nil)
	const n = 600
	specs := make([]PageSpec, n+2)
	for i := range specs {
		specs[i] = PageSpec{Size: 8}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	child, parents, unbound := ids[n], ids[:n], ids[n+1]
	if err := e.Bind(ctx, child, "f64.sum", nil, parents); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		offset, limit int
		from, to      int // the parents returned: parents[from:to]
	}{
		{0, 10, 0, 10},
		{590, 20, 590, n},
		{0, n, 0, n},
		{-5, 3, 0, 3},
		{n, 5, n, n},
		{n + 1, 5, n, n},
		{math.MaxInt, 5, n, n},
		{10, 0, 10, 10},
		{10, -1, 10, 10},
		{599, math.MaxInt, 599, n},
		{math.MinInt, math.MaxInt, 0, n},
	} {
		b, total, ok := e.BindingParents(child, tc.offset, tc.limit)
		got := b.Parents
		if !ok || total != n || b.Func != "f64.sum" || !slices.Equal(got, parents[tc.from:tc.to]) {
			t.Errorf("BindingParents(offset %d, limit %d) = %q, %d parents, total %d, ok %v; want f64.sum, parents[%d:%d], total %d, ok",
				tc.offset, tc.limit, b.Func, len(got), total, ok, tc.from, tc.to, n)
		}
	}
	if got, total, ok := e.BindingParents(unbound, 0, 10); ok || total != 0 || got.Func != "" || got.Parents != nil {
		t.Errorf("BindingParents of an unbound page = %+v, %d, %v; want none, 0, false", got, total, ok)
	}
	// The parents returned are a copy: writing them leaves the binding.
	got, _, _ := e.BindingParents(child, 0, 1)
	got.Parents[0] = unbound
	if b, _ := e.Binding(child); b.Parents[0] != parents[0] {
		t.Fatalf("writing the parents BindingParents returned changed the binding: parent 0 is %d", b.Parents[0])
	}
	var buf []PageID
	allocs := testing.AllocsPerRun(20, func() { b, _, _ := e.BindingParents(child, 100, 4); buf = b.Parents })
	if allocs > 1 || cap(buf) > 8 {
		t.Errorf("BindingParents of 4 of %d parents: %.0f allocations, capacity %d; want 1 of about 4", n, allocs, cap(buf))
	}
}
