package tick

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestEveryRejectionPublished: every rejected delta is published as an
// EventDeltaRejected, in submission order, however many a tick rejects;
// only Result.Rejections is bounded (MaxRejectionReports). Rejections past
// the 64th had no event, and no Dropped count either.
func TestEveryRejectionPublished(t *testing.T) {
	tests := []struct {
		name    string
		invalid int
	}{
		{"under the report limit", MaxRejectionReports - 1},
		{"at the report limit", MaxRejectionReports},
		{"over the report limit", 3 * MaxRejectionReports},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := openMem(t, nil)
			id := mustCreate(t, e, 1, 64)[0]
			o := newOrch(t, e, &Options{SkipStartupResync: true})
			sub, err := o.Subscribe(EventFilter{Types: []EventType{EventDeltaRejected}}, 4*tc.invalid, false)
			if err != nil {
				t.Fatal(err)
			}
			good := mmsb.Write(id, 0, []byte{1})
			submitAll(t, o, good)
			for i := range tc.invalid {
				bad := mmsb.Write(id+mmsb.PageID(1+i), 0, []byte{1}) // no such page
				submitAll(t, o, bad)
			}
			r, err := o.Tick(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rejected != tc.invalid || len(r.Rejections) != min(tc.invalid, MaxRejectionReports) {
				t.Fatalf("Rejected %d with %d reports, want %d with %d", r.Rejected, len(r.Rejections), tc.invalid, min(tc.invalid, MaxRejectionReports))
			}
			got := 0
			for len(sub.C) > 0 {
				ev := <-sub.C
				if want := id + mmsb.PageID(1+got); ev.Page != want || !errors.Is(ev.Err, mmsb.ErrPageNotFound) {
					t.Fatalf("rejection event %d: page %d err %v, want page %d ErrPageNotFound", got, ev.Page, ev.Err, want)
				}
				got++
			}
			if got != tc.invalid || sub.Dropped() != 0 {
				t.Fatalf("%d rejection events (%d dropped) for %d rejected deltas", got, sub.Dropped(), tc.invalid)
			}
		})
	}
}
