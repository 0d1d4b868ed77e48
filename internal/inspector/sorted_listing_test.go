package inspector_test

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestSortedListingHoldsNoDescriptions: a ListPages sorted by a column
// other than the ID, or searching "flagged", reads each page's
// description by its own call and keeps only its sort key, instead of
// every description at once (Bus.Pages). Bus.Pages held the bus's read
// lock for the whole table: at 1M pages each such listing (every tab
// sorted by epoch refreshes one every 2 s on a live bus) made commits wait
// up to 2.4 s (26 ms since). A lock held is not seen without a clock, so
// the test counts what the listing allocates, which the one call also
// made large: a description (80 bytes) for every page, besides 8 for its
// ID and 16 for its key. With 65,536 pages the listing must allocate
// under 72 bytes a page (4.5 MiB; it allocated 118 sorted and 93
// flagged, and allocates about 40 and 21, 49 and 29 under -race). The
// answers are checked against the bus's own descriptions.
func TestSortedListingHoldsNoDescriptions(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 1 << 16
	specs := make([]mmsb.PageSpec, n)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 8 + i%5}
	}
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	// Epochs and last LSNs that differ from the ID order: page i is
	// written i%3 times, the later pages first.
	var ds []mmsb.Delta
	for i := len(ids) - 1; i >= 0; i -= 97 {
		for range i % 3 {
			ds = append(ds, mmsb.Write(ids[i], 0, []byte{byte(i)}))
		}
	}
	if _, err := bus.Commit(ctx, ds); err != nil {
		t.Fatal(err)
	}
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	infos, err := bus.Pages()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		req    *inspectorv1.ListPagesRequest
		key    func(*mmsb.PageInfo) uint64
		expect int // rows answered
	}{
		{"by epoch, descending", &inspectorv1.ListPagesRequest{Sort: inspectorv1.PageSort_PAGE_SORT_EPOCH, Descending: true, Limit: 100},
			func(p *mmsb.PageInfo) uint64 { return uint64(p.Epoch) }, 100},
		{"by last LSN", &inspectorv1.ListPagesRequest{Sort: inspectorv1.PageSort_PAGE_SORT_LAST_LSN, Offset: n - 10, Limit: 100},
			func(p *mmsb.PageInfo) uint64 { return uint64(p.LastLSN) }, 10},
		{"by size", &inspectorv1.ListPagesRequest{Sort: inspectorv1.PageSort_PAGE_SORT_SIZE, Offset: n/5 - 3, Limit: 6},
			func(p *mmsb.PageInfo) uint64 { return uint64(p.Size) }, 6},
		{"flagged (none)", &inspectorv1.ListPagesRequest{Search: "flagged"}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res, err := c.ListPages(ctx, connect.NewRequest(tc.req))
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			got := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %d bytes, %d a page", got, got/n)
			if got > 72*n {
				t.Errorf("ListPages %s of %d pages allocated %d bytes, %d a page: over 72 a page (every page's description held at once)", tc.name, n, got, got/n)
			}
			rows := res.Msg.Rows
			if len(rows) != tc.expect {
				t.Fatalf("%d rows, want %d", len(rows), tc.expect)
			}
			if tc.key == nil {
				if res.Msg.Total != 0 {
					t.Fatalf("total %d, want 0 (no page is flagged)", res.Msg.Total)
				}
				return
			}
			if res.Msg.Total != n {
				t.Fatalf("total %d, want %d", res.Msg.Total, n)
			}
			want := slices.Clone(infos)
			slices.SortFunc(want, func(a, b mmsb.PageInfo) int {
				if c := cmp.Compare(tc.key(&a), tc.key(&b)); c != 0 {
					return c
				}
				return cmp.Compare(a.ID, b.ID)
			})
			if tc.req.Descending {
				slices.Reverse(want)
			}
			want = want[tc.req.Offset:][:tc.expect]
			for i, r := range rows {
				if w := want[i]; r.Id != uint64(w.ID) || r.Epoch != uint64(w.Epoch) || r.LastLsn != uint64(w.LastLSN) || r.Size != uint32(w.Size) {
					t.Fatalf("row %d: page %d (size %d, epoch %d, last LSN %d), want page %d (size %d, epoch %d, last LSN %d)",
						i, r.Id, r.Size, r.Epoch, r.LastLsn, w.ID, w.Size, w.Epoch, w.LastLSN)
				}
			}
		})
	}
}

// TestTableScansAreBounded: while the listings that read every page
// (sorted by a column other than the ID, or searching "flagged") are all
// taken, the next waits: a sorted listing and a flagged search end with
// their deadline (300 ms, a bound for the wait, not a measure of it),
// while a listing by ID answers at once (the control); given back, the
// sorted listing answers. Before, any number ran at once: at 1M pages
// each costs about half a second of CPU and 40 MB, and a tab sorted by
// epoch sends one every 2 s.
func TestTableScansAreBounded(t *testing.T) {
	bus, _, _, _ := serviceFixture(t)
	ins, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	release := inspector.HoldTableScans(ins)
	defer func() {
		if release != nil {
			release()
		}
	}()
	for _, req := range []*inspectorv1.ListPagesRequest{
		{Sort: inspectorv1.PageSort_PAGE_SORT_EPOCH},
		{Search: "flagged"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := c.ListPages(ctx, connect.NewRequest(req))
		cancel()
		if connect.CodeOf(err) != connect.CodeDeadlineExceeded {
			t.Errorf("ListPages %v with every table scan taken: %v, want it to wait (deadline_exceeded)", req, err)
		}
	}
	ctx := context.Background()
	if _, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{})); err != nil {
		t.Fatalf("ListPages by ID with every table scan taken: %v, want an answer (it reads no page)", err)
	}
	release()
	release = nil
	res, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{Sort: inspectorv1.PageSort_PAGE_SORT_EPOCH}))
	if err != nil || len(res.Msg.Rows) == 0 {
		t.Fatalf("ListPages by epoch once the scans are given back: %v", err)
	}
}
