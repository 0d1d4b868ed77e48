package page

import (
	"math"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestIDWalksAscendingNearMaxID creates pages at IDs up to 2^64-1 among
// small ones and requires every ID walk (AppendIDs, ForEach, AppendIDsFrom
// in pieces) to give the IDs in ascending order, and Lookup to find each.
// The dense window used to be placed at a huge first ID with its entries
// running past 2^64-1 and wrapping to 0, 1, ...: small IDs created after
// it landed there and were walked after it ([2^64-1 5 7]), so the bus's
// PageIDs were not ascending and a checkpoint wrote its pages out of order.
func TestIDWalksAscendingNearMaxID(t *testing.T) {
	const top = base.PageID(math.MaxUint64)
	cases := []struct {
		name string
		ids  []base.PageID
		free []base.PageID // freed after ids are created
		then []base.PageID // created after the frees
	}{
		{"max then small", []base.PageID{top, 5, top - 3, 7}, nil, nil},
		{"max alone then one", []base.PageID{top, 1}, nil, nil},
		{"near max then small", []base.PageID{top - 10, 3, top, 2}, nil, nil},
		{"window slides to the top", []base.PageID{top - 70000, top - 69000}, []base.PageID{top - 70000}, []base.PageID{top - 4400, 1, 2}},
		{"small then max", []base.PageID{1, 2, top, top - 1}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New()
			defer s.Close()
			create := func(ids []base.PageID) {
				for _, id := range ids {
					if _, err := s.Create(id, 8, base.LocationCPU); err != nil {
						t.Fatalf("Create(%d): %v", id, err)
					}
				}
			}
			create(c.ids)
			for _, id := range c.free {
				if err := s.Free(id); err != nil {
					t.Fatalf("Free(%d): %v", id, err)
				}
			}
			create(c.then)
			var want []base.PageID
			for _, id := range append(slices.Clone(c.ids), c.then...) {
				if !slices.Contains(c.free, id) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			if got := s.AppendIDs(nil); !slices.Equal(got, want) {
				t.Errorf("AppendIDs = %v, want %v", got, want)
			}
			var each []base.PageID
			s.ForEach(func(sl Slot) bool { each = append(each, s.ID(sl)); return true })
			if !slices.Equal(each, want) {
				t.Errorf("ForEach IDs = %v, want %v", each, want)
			}
			// Walk in pieces of one, as VerifyReplay walks in pieces.
			var pieces []base.PageID
			for from := base.PageID(0); len(pieces) < len(want)+1; {
				got := s.AppendIDsFrom(nil, from, 1)
				if len(got) == 0 {
					break
				}
				pieces = append(pieces, got...)
				if got[0] == top {
					break
				}
				from = got[0] + 1
			}
			if !slices.Equal(pieces, want) {
				t.Errorf("AppendIDsFrom in pieces = %v, want %v", pieces, want)
			}
			for _, id := range want {
				if sl, ok := s.Lookup(id); !ok || s.ID(sl) != id {
					t.Errorf("Lookup(%d) = %d, %v", id, sl, ok)
				}
			}
			if _, ok := s.Lookup(6); ok {
				t.Error("Lookup(6) found a page never created")
			}
		})
	}
}
