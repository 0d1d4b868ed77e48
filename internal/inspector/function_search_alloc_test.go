package inspector_test

import (
	"context"
	"runtime"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestFunctionSearchAllocations: a ListPages search by function name
// answers the derived pages bound to that function, ascending, and
// allocates the same few blocks whatever the number of bindings: the list
// of derived IDs, filtered in place. It read every binding with
// Bus.Binding, a copy of its parents per binding: 2,061 allocations for
// the 2,048 bindings here, over 1M per search (each keystroke, and every
// 2 s of a tab showing it) at 1M bindings.
func TestFunctionSearchAllocations(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 2048
	ids := createSmallPages(t, bus, n+2)
	parents := ids[:2]
	var want []mmsb.PageID
	for i, id := range ids[2:] {
		fn := "f64.max"
		if i%3 == 0 {
			fn = "f64.sum"
			want = append(want, id)
		}
		if err := bus.Bind(ctx, id, fn, nil, parents); err != nil {
			t.Fatal(err)
		}
	}
	ins, _ := mountInspector(t, inspector.Options{Bus: bus})

	got, err := inspector.SearchPages(ctx, ins, "f64.sum")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("search f64.sum: %d pages %v..., want %d pages %v...", len(got), got[:min(len(got), 4)], len(want), want[:4])
	}
	if got, err := inspector.SearchPages(ctx, ins, "f64.min"); err != nil || len(got) != 0 {
		t.Fatalf("search f64.min (registered, bound to nothing): %v, %v; want no pages", got, err)
	}

	// The bound: the derived IDs' list and a few small allocations of
	// Bus.Bindings' sort (5 in all when written); nothing per binding.
	const most = 8
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := inspector.SearchPages(ctx, ins, "f64.sum"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > most {
		t.Errorf("a search by function over %d bindings made %.0f allocations, want at most %d (none per binding)", n, allocs, most)
	}
}

// TestListingCopiesNoParents: a ListPages of derived pages names each
// row's function without a copy of its binding's parents. 50 rows of
// bindings of 4,096 parents each allocated 1.6 MB (32 KiB a row, 8 bytes a
// parent) for an answer of a few KB; at the most rows (1,000) of bindings
// of 100,000 parents, 800 MB a listing, sent again every 2 s by a tab
// showing it. The rows' functions are checked too.
func TestListingCopiesNoParents(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const rows, parents = 50, 4096
	ids := createSmallPages(t, bus, parents+rows)
	for _, id := range ids[parents:] {
		if err := bus.Bind(ctx, id, "f64.sum", nil, ids[:parents]); err != nil {
			t.Fatal(err)
		}
	}
	ins, _ := mountInspector(t, inspector.Options{Bus: bus})
	req := &inspectorv1.ListPagesRequest{Search: "derived", Limit: rows}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := inspector.ListPagesWith(ctx, ins, req)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != rows {
		t.Fatalf("%d rows, want %d", len(res.Rows), rows)
	}
	for _, r := range res.Rows {
		if r.Func != "f64.sum" {
			t.Fatalf("row of page %d: function %q, want f64.sum", r.Id, r.Func)
		}
	}
	// The parents' copies alone were rows*parents*8 bytes (1.6 MB).
	const most = 256 << 10
	if got := after.TotalAlloc - before.TotalAlloc; got > most {
		t.Errorf("ListPages of %d derived pages, each of %d parents, allocated %d KB, want at most %d KB (no copy of the parents)", rows, parents, got>>10, most>>10)
	}
}
