package mmsb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestFreePageNamesBindings: with c = sum(a, b) and d = sum(c),
// FreePage(a) said "page 1 (remove its edges first)", and the edge to
// remove, RemoveEdge(a, c, EdgeData), was refused as the binding's
// ("unbind instead"). FreePage names the bindings that hold the page and
// says to Unbind them; a derived page says to Unbind it; once unbound the
// page frees.
func TestFreePageNamesBindings(t *testing.T) {
	ctx := context.Background()
	b, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ids, err := b.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	a, c, d := ids[0], ids[2], ids[3]
	if err := b.Bind(ctx, c, "f64.sum", nil, ids[:2]); err != nil {
		t.Fatal(err)
	}
	if err := b.Bind(ctx, d, "f64.sum", nil, []mmsb.PageID{c}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   mmsb.PageID
		want string
	}{
		{a, "page 1 is a parent in the binding of page(s) [3] (Unbind them first)"},
		{c, "page 3 is derived (Unbind(3) first)"},
	} {
		err := b.FreePage(ctx, tc.id)
		if !errors.Is(err, mmsb.ErrPageInUse) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FreePage(%d) = %v, want ErrPageInUse saying %q", tc.id, err, tc.want)
		}
	}
	if err := b.Unbind(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := b.FreePage(ctx, a); err != nil {
		t.Errorf("FreePage(a) after Unbind(c): %v", err)
	}
	err = b.FreePage(ctx, c)
	if want := "page 3 is a parent in the binding of page(s) [4]"; !errors.Is(err, mmsb.ErrPageInUse) || !strings.Contains(err.Error(), want) {
		t.Errorf("FreePage(c) = %v, want ErrPageInUse saying %q", err, want)
	}
}

// TestFreePageManyBindingsBounded: a page parent of many bindings was
// refused with every bound page listed (10,000 bindings made a 60 KB
// error) after a quadratic scan of them. The message names the first
// 16 in page order and counts them all (shownIDs).
func TestFreePageManyBindingsBounded(t *testing.T) {
	ctx := context.Background()
	b, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 1000
	specs := make([]mmsb.PageSpec, n+1)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 8}
	}
	ids, err := b.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	// Bound from the last page down: the message's order is the pages',
	// not the bindings'.
	for i := n; i >= 1; i-- {
		if err := b.Bind(ctx, ids[i], "f64.sum", nil, ids[:1]); err != nil {
			t.Fatal(err)
		}
	}
	err = b.FreePage(ctx, ids[0])
	want := fmt.Sprintf("page %d is a parent in the binding of page(s) %v… (%d in all) (Unbind them first)", ids[0], ids[1:17], n)
	if !errors.Is(err, mmsb.ErrPageInUse) || !strings.Contains(err.Error(), want) || len(err.Error()) > 512 {
		msg := fmt.Sprint(err)
		t.Errorf("FreePage(parent of %d bindings) = %.300s (%d bytes), want ErrPageInUse saying %q", n, msg, len(msg), want)
	}
}
