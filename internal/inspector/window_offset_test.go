package inspector_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestWindowOffsetPastThePage: a GetPage window_offset past the page's
// end, now or as of an LSN, is invalid_argument naming it, up to the
// largest offset the request can hold. Before, on a 32-bit platform
// (linux/arm, which CI tests under qemu-arm) an offset of 2^31 or more
// turned negative as an int, passed the check and, as of an LSN, panicked
// slicing the page (GOARCH=arm go test -exec qemu-arm -run
// TestWindowOffsetPastThePage ./internal/inspector/).
func TestWindowOffsetPastThePage(t *testing.T) {
	ctx := context.Background()
	bus, ids := busWithOneWrite(t)
	asOf := uint64(bus.LastLSN())
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	for _, lsn := range []uint64{0, asOf} {
		for _, tc := range []struct {
			offset uint32
			bytes  int // answered; -1: refused
		}{
			{0, 64},  // control
			{64, 0},  // control: the end
			{65, -1}, // one past it
			{math.MaxInt32 + 1, -1},
			{math.MaxUint32, -1},
		} {
			name := "now"
			if lsn != 0 {
				name = "as of an LSN"
			}
			t.Run(fmt.Sprintf("%s at %d", name, tc.offset), func(t *testing.T) {
				r, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(ids[0]), AsOfLsn: lsn, WindowOffset: tc.offset}))
				switch {
				case tc.bytes < 0 && (connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "window_offset")):
					t.Fatalf("window_offset %d: %v; want invalid_argument naming window_offset", tc.offset, err)
				case tc.bytes >= 0 && (err != nil || len(r.Msg.GetData()) != tc.bytes):
					t.Fatalf("window_offset %d: %v; want %d bytes", tc.offset, err, tc.bytes)
				}
			})
		}
	}
}

// TestRequestNumbersPastInt32: every count or size a request carries
// (uint32 fields) of 2^31 or more is invalid_argument naming it, and a
// provenance depth that large is taken as "as deep as the bus goes". The
// test means something on a 32-bit platform: there an int of such a
// number was negative, passed each "over the most" check and panicked in
// a slice bound or a make (ListPages limit, QueryLog limit with newest) or
// slipped through (GetPage recent and window_length, Graph depth and
// max_nodes) (GOARCH=arm go test -exec qemu-arm -run
// TestRequestNumbersPastInt32 ./internal/inspector/).
func TestRequestNumbersPastInt32(t *testing.T) {
	ctx := context.Background()
	bus, ids := busWithOneWrite(t)
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	id := uint64(ids[0])
	logErr := func(req *inspectorv1.QueryLogRequest) error {
		s, err := c.QueryLog(ctx, connect.NewRequest(req))
		if err != nil {
			return err
		}
		return streamEnd(s)
	}
	for _, n := range []uint32{math.MaxInt32 + 1, math.MaxUint32} {
		for _, tc := range []struct {
			name  string
			call  func() error
			field string // "": answered
		}{
			{"ListPages limit", func() error {
				_, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{Limit: n}))
				return err
			}, "limit"},
			{"GetPage recent", func() error {
				_, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: id, Recent: n}))
				return err
			}, "recent"},
			{"GetPage window_length", func() error {
				_, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: id, WindowLength: n}))
				return err
			}, "window_length"},
			{"Graph depth", func() error {
				_, err := c.Graph(ctx, connect.NewRequest(&inspectorv1.GraphRequest{Page: id, Depth: n}))
				return err
			}, "depth"},
			{"Graph max_nodes", func() error {
				_, err := c.Graph(ctx, connect.NewRequest(&inspectorv1.GraphRequest{Page: id, MaxNodes: n}))
				return err
			}, "max_nodes"},
			{"QueryLog limit", func() error { return logErr(&inspectorv1.QueryLogRequest{Limit: n}) }, "limit"},
			{"QueryLog newest limit", func() error { return logErr(&inspectorv1.QueryLogRequest{Limit: n, Newest: true}) }, "limit"},
			{"Provenance offset", func() error {
				_, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: id, Offset: n, Length: 1}))
				return err
			}, "largest page size"},
			{"Provenance length", func() error {
				_, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: id, Length: n}))
				return err
			}, "largest page size"},
			{"control: Provenance depth", func() error {
				_, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: id, Length: 1, Depth: n}))
				return err
			}, ""},
		} {
			t.Run(fmt.Sprintf("%s %d", tc.name, n), func(t *testing.T) {
				err := tc.call()
				switch {
				case tc.field == "" && err != nil:
					t.Fatalf("%d: %v; want an answer", n, err)
				case tc.field != "" && (connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tc.field)):
					t.Fatalf("%d: %v; want invalid_argument naming %s", n, err, tc.field)
				}
			})
		}
	}
}

// memBus opens an in-memory bus closed when the test ends.
func memBus(t testing.TB) *mmsb.Bus {
	t.Helper()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	return bus
}

// createSmallPages creates n pages of 8 bytes on bus in one call and
// returns their IDs.
func createSmallPages(t testing.TB, bus *mmsb.Bus, n int) []mmsb.PageID {
	t.Helper()
	specs := make([]mmsb.PageSpec, n)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 8}
	}
	ids, err := bus.CreatePages(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// busWithOneWrite is memBus with one page of 64 bytes whose byte 0 one
// commit wrote; it returns the bus and the page's ID in a slice.
func busWithOneWrite(t *testing.T) (*mmsb.Bus, []mmsb.PageID) {
	t.Helper()
	bus := memBus(t)
	ids, err := bus.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(context.Background(), []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{7})}); err != nil {
		t.Fatal(err)
	}
	return bus, ids
}
