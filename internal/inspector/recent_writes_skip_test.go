package inspector_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestRecentWritesSkipBigRecords: a page view whose recent-writes search
// passes a Bind of 2^16 parents and the derived write it caused (2^16
// parent reads) allocates less than 2 MiB, and finds the page's 8 writes
// around them. The log query decoded every operation in its range whole
// before looking at its kind and page: the Bind's parents (512 KiB as
// page IDs) and the derived write's reads (1 MiB), with their growth, for
// each of the search's two passes, 6.2 MB a view. What is left is the
// reader's buffers (the records in range are read, each to check its
// checksum).
func TestRecentWritesSkipBigRecords(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 1 << 16
	ids := createSmallPages(t, bus, n+2)
	page, sum := ids[n], ids[n+1]
	write := func(i int) {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(page, 0, []byte{byte(i)})}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		write(i)
	}
	if err := bus.Bind(ctx, sum, "f64.sum", nil, ids[:n]); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 4; i < 8; i++ {
		write(i)
	}
	in, _, _ := serveInspector(t, inspector.Options{Bus: bus})
	req := &inspectorv1.GetPageRequest{Id: uint64(page), Recent: 8}
	get := func() *inspectorv1.GetPageResponse {
		r, err := inspector.GetPageWith(ctx, in, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	get()
	const calls = 4
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var r *inspectorv1.GetPageResponse
	for range calls {
		r = get()
	}
	runtime.ReadMemStats(&after)
	perCall := (after.TotalAlloc - before.TotalAlloc) / calls
	t.Logf("GetPage allocates %d bytes a call", perCall)
	if perCall > 2<<20 {
		t.Errorf("GetPage of page %d allocated %d bytes a call, over 2 MiB: its recent-writes search copies the lists of operations it passes by", page, perCall)
	}
	if len(r.Recent) != 8 {
		t.Fatalf("%d recent writes, want 8", len(r.Recent))
	}
	for i, w := range r.Recent {
		if w.Derived || len(w.Ranges) != 1 || w.Ranges[0].Lo != 0 || w.Ranges[0].Hi != 1 {
			t.Fatalf("recent write %d (LSN %d): derived %v, ranges %v; want a write of byte 0", i, w.Lsn, w.Derived, w.Ranges)
		}
		if i > 0 && w.Lsn >= r.Recent[i-1].Lsn {
			t.Fatalf("recent writes not newest first: LSN %d after %d", w.Lsn, r.Recent[i-1].Lsn)
		}
	}
}
