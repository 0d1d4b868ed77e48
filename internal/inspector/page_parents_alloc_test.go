package inspector_test

import (
	"context"
	"runtime"
	"testing"

	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestGetPageCopiesOnlyShownParents: GetPage of a page derived from 2^16
// pages copies the 1,000 parents it lists, not all of them. It read the
// binding with Bus.Binding, which copies every parent (512 KiB here, 8 MiB
// for 2^20 parents) at each page view; the bound here is a quarter of
// that copy per call, far above the 8 KB of the 1,000 parents listed.
func TestGetPageCopiesOnlyShownParents(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 1 << 16
	ids := createSmallPages(t, bus, n+2)
	child, narrow := ids[n], ids[n+1]
	if err := bus.Bind(ctx, child, "f64.sum", nil, ids[:n]); err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, narrow, "f64.sum", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	in, _, _ := serveInspector(t, inspector.Options{Bus: bus})
	// Each GetPage also reads the log for the page's last writes, which
	// allocates MBs here (the Bind and CreatePages records of 2^17 pages
	// are read whole), as much for a page bound later with one parent:
	// the bytes a view of the wide page allocates past a view of that one
	// are what the wide page's parents cost.
	perCall := func(req *inspectorv1.GetPageRequest) (uint64, *inspectorv1.GetPageResponse) {
		get := func() *inspectorv1.GetPageResponse {
			r, err := inspector.GetPageWith(ctx, in, req)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		get() // warms what a first call sets up once
		const calls = 4
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var r *inspectorv1.GetPageResponse
		for range calls {
			r = get()
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / calls, r
	}
	one, _ := perCall(&inspectorv1.GetPageRequest{Id: uint64(narrow), WindowLength: 8})
	wide, r := perCall(&inspectorv1.GetPageRequest{Id: uint64(child), WindowLength: 8, ParentsOffset: 5000})
	t.Logf("GetPage allocates %d bytes a call of a page derived from %d pages, %d of one derived from one", wide, n, one)
	if copyBytes := uint64(n * 8); wide > one+copyBytes/4 {
		t.Errorf("GetPage of a page derived from %d pages allocated %d bytes a call, %d more than of a page derived from one; a copy of its parents is %d",
			n, wide, int64(wide-one), copyBytes)
	}
	if r.ParentsTotal != n || len(r.Parents) != 1000 || r.Parents[0] != uint64(ids[5000]) || r.Parents[999] != uint64(ids[5999]) {
		t.Fatalf("parents %d of %d listed, from %v; want parents 5,000 to 5,999 of %d", len(r.Parents), r.ParentsTotal, r.Parents[:min(len(r.Parents), 1)], n)
	}
}
