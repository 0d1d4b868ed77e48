package inspector_test

import (
	"context"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestGetPageShowsOneBinding: a page rebound from f64.sum over (a, b) to
// f64.max over (c, d) while GetPage reads it (between the page and its
// binding) is shown with f64.max and (c, d); unbound there, with no
// function and no parents. GetPage read the function with the page's row
// (Bus.BindingFunc) and the parents later (Bus.BindingParents), under two
// locks: it showed f64.sum over (c, d), a binding the page never had.
func TestGetPageShowsOneBinding(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	ids := createSmallPages(t, bus, 5)
	a, b, c, d, p := ids[0], ids[1], ids[2], ids[3], ids[4]
	in, _, _ := serveInspector(t, inspector.Options{Bus: bus})
	for _, tc := range []struct {
		name    string
		change  func() error
		fn      string
		parents []uint64
	}{
		{"rebound", func() error {
			if err := bus.Unbind(ctx, p); err != nil {
				return err
			}
			return bus.Bind(ctx, p, "f64.max", nil, []mmsb.PageID{c, d})
		}, "f64.max", []uint64{uint64(c), uint64(d)}},
		{"unbound", func() error { return bus.Unbind(ctx, p) }, "", []uint64{}},
	} {
		if fn, ok := bus.BindingFunc(p); ok {
			if err := bus.Unbind(ctx, p); err != nil {
				t.Fatalf("unbind %s: %v", fn, err)
			}
		}
		if err := bus.Bind(ctx, p, "f64.sum", nil, []mmsb.PageID{a, b}); err != nil {
			t.Fatal(err)
		}
		once := true
		inspector.SetPageReadHook(in, func() {
			if once {
				once = false
				if err := tc.change(); err != nil {
					t.Error(err)
				}
			}
		})
		r, err := inspector.GetPageWith(ctx, in, &inspectorv1.GetPageRequest{Id: uint64(p)})
		inspector.SetPageReadHook(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		if once {
			t.Fatalf("%s: GetPage did not call its page-read hook", tc.name)
		}
		if r.Page.Func != tc.fn || !slices.Equal(r.Parents, tc.parents) || r.ParentsTotal != uint64(len(tc.parents)) {
			t.Errorf("%s: page %d shown as %q over %v (%d parents); want %q over %v", tc.name, p, r.Page.Func, r.Parents, r.ParentsTotal, tc.fn, tc.parents)
		}
	}
}
