package inspector_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestGetPageSkipsParentReads: the view of a derived page of 2^16 parents
// with 8 recent writes, each of which read every parent, allocates less
// than 1 MiB, and shows the 8 writes. The log queries that find them
// decoded each write's 2^16 parent reads, which no answer shows: 22 MB
// a view.
func TestGetPageSkipsParentReads(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 1 << 16
	ids := createSmallPages(t, bus, n+1)
	sum := ids[n]
	if err := bus.Bind(ctx, sum, "f64.sum", nil, ids[:n]); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[i], 0, []byte{byte(i + 1)})}); err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Propagate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	in, _, _ := serveInspector(t, inspector.Options{Bus: bus})
	req := &inspectorv1.GetPageRequest{Id: uint64(sum), Recent: 8}
	get := func() *inspectorv1.GetPageResponse {
		r, err := inspector.GetPageWith(ctx, in, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	get()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := get()
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("GetPage of the derived page allocated %d bytes", got)
	if got > 1<<20 {
		t.Errorf("GetPage of derived page %d (%d parents) allocated %d bytes, over 1 MiB: its recent-writes search decodes the parent reads of each write", sum, n, got)
	}
	derived := 0
	for _, w := range r.Recent {
		if w.Derived {
			derived++
		}
	}
	if len(r.Recent) != 8 || derived != 8 {
		t.Fatalf("%d recent writes, %d derived; want 8 derived writes", len(r.Recent), derived)
	}
}
