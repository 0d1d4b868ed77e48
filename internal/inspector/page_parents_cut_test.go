package inspector_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestGetPageCutsParents: GetPage lists at most 1000 of a binding's
// parents, from parents_offset, with parents_total counting them all; an
// offset past them is invalid_argument naming it. It listed every parent:
// a binding of 1M parents made each page view an answer of about 10 MB.
func TestGetPageCutsParents(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 2500
	ids := createSmallPages(t, bus, n+2)
	child, parents, unbound := ids[n], ids[:n], ids[n+1]
	if err := bus.Bind(ctx, child, "f64.sum", nil, parents); err != nil {
		t.Fatal(err)
	}
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	get := func(id uint64, offset uint32) (*inspectorv1.GetPageResponse, error) {
		res, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: id, WindowLength: 8, ParentsOffset: offset}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	for _, tc := range []struct {
		offset   uint32
		from, to int // the parents listed: parents[from:to]
	}{{0, 0, 1000}, {1000, 1000, 2000}, {2000, 2000, n}, {n, n, n}} {
		r, err := get(uint64(child), tc.offset)
		if err != nil {
			t.Fatalf("parents_offset %d: %v", tc.offset, err)
		}
		want := make([]uint64, 0, tc.to-tc.from)
		for _, p := range parents[tc.from:tc.to] {
			want = append(want, uint64(p))
		}
		if r.ParentsTotal != n || !slices.Equal(r.Parents, want) {
			t.Fatalf("parents_offset %d: %d parents listed (from %v), %d in all; want parents[%d:%d] of %d",
				tc.offset, len(r.Parents), r.Parents[:min(len(r.Parents), 1)], r.ParentsTotal, tc.from, tc.to, n)
		}
	}
	_, err := get(uint64(child), n+1)
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "parents_offset 2501") {
		t.Fatalf("parents_offset past the parents: %v, want invalid_argument naming parents_offset 2501", err)
	}
	r, err := get(uint64(unbound), 0)
	if err != nil || r.ParentsTotal != 0 || len(r.Parents) != 0 {
		t.Fatalf("an unbound page: %v, %d parents of %d; want none", err, len(r.GetParents()), r.GetParentsTotal())
	}
}
