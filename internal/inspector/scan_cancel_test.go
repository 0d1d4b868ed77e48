package inspector_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestTableScanStopsWithItsContext: a ListPages that reads every page (a
// sort by a column other than the ID, the flagged search, both) looks at
// its context every ScanCheckEvery pages and, once it is done, returns its
// error (canceled) at the next look, with its table-scan token given
// back; so does a search by function name, which reads each binding. Before, only the wait for the token saw the context: a listing
// whose client went away read the whole table (half a second of CPU at 1M
// pages) holding a token. No clock: a hook cancels the context at the
// scan's second look and counts the looks; the handler is called
// directly, as a client returns on cancel before the handler sees it.
func TestTableScanStopsWithItsContext(t *testing.T) {
	bus := memBus(t)
	const n = 3*inspector.ScanCheckEvery + 10 // 4 looks for a whole scan
	ids := createSmallPages(t, bus, n)
	for i := range 2 {
		if err := bus.Bind(context.Background(), ids[n-1-i], "f64.sum", nil, ids[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	ins, _, _ := serveInspector(t, inspector.Options{Bus: bus})
	var looks int
	var cancel context.CancelFunc
	cancelAt := 0
	inspector.SetScanHook(ins, func() {
		looks++
		if looks == cancelAt {
			cancel()
		}
	})
	for _, tc := range []struct {
		name         string
		req          *inspectorv1.ListPagesRequest
		total, looks int // answered uncancelled
		stopAt       int // the look that cancels
	}{
		{"by epoch", &inspectorv1.ListPagesRequest{Sort: inspectorv1.PageSort_PAGE_SORT_EPOCH}, n, 4, 2},
		{"flagged", &inspectorv1.ListPagesRequest{Search: "flagged"}, 0, 4, 2},
		{"by size", &inspectorv1.ListPagesRequest{Sort: inspectorv1.PageSort_PAGE_SORT_SIZE, Descending: true}, n, 4, 2},
		// 2 bindings: one look, before the first.
		{"by function", &inspectorv1.ListPagesRequest{Search: "f64.sum"}, 2, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The control: not cancelled, the scan looks every
			// ScanCheckEvery pages and answers.
			looks, cancelAt = 0, 0
			var ctx context.Context
			ctx, cancel = context.WithCancel(context.Background())
			res, err := inspector.ListPagesWith(ctx, ins, tc.req)
			cancel()
			if err != nil {
				t.Fatalf("ListPages %v: %v", tc.req, err)
			}
			if res.Total != uint64(tc.total) {
				t.Fatalf("ListPages %v: total %d, want %d", tc.req, res.Total, tc.total)
			}
			if looks != tc.looks {
				t.Fatalf("ListPages %v of %d pages looked at its context %d times, want %d (every %d pages)", tc.req, n, looks, tc.looks, inspector.ScanCheckEvery)
			}
			// Cancelled at a look: it stops there.
			looks, cancelAt = 0, tc.stopAt
			ctx, cancel = context.WithCancel(context.Background())
			_, err = inspector.ListPagesWith(ctx, ins, tc.req)
			cancel()
			if connect.CodeOf(err) != connect.CodeCanceled {
				t.Fatalf("ListPages %v cancelled mid-scan: %v, want canceled", tc.req, err)
			}
			if looks != tc.stopAt {
				t.Errorf("ListPages %v cancelled at look %d went on to look %d times, want it to stop there", tc.req, tc.stopAt, looks)
			}
			if taken := inspector.TableScansTaken(ins); taken != 0 {
				t.Errorf("after a cancelled ListPages %v, %d table-scan tokens are taken, want 0", tc.req, taken)
			}
		})
	}
}
