package server

import (
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// FuzzWatchSelection: any bytes decoded as a watch request either are
// refused with InvalidArgument or ResourceExhausted, or select exactly
// the pages a plain reading of the request selects (every page when it
// names none; else its pages and the pages of its inclusive ranges),
// checked at each named page and range end and their neighbours.
func FuzzWatchSelection(f *testing.F) {
	for _, m := range []*mmsbv1.WatchRequest{
		{},
		{Pages: []uint64{3, 1, 3, 0}},
		{Ranges: []*mmsbv1.PageRange{{First: 5, Last: 9}, {First: 10, Last: 12}, {First: 0, Last: 0}}},
		{Pages: []uint64{20}, Ranges: []*mmsbv1.PageRange{{First: 1 << 63, Last: 1<<64 - 1}, {First: 2, Last: 1}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m mmsbv1.WatchRequest
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		pages := append([]uint64(nil), m.GetPages()...)
		var ranges [][2]uint64
		for _, r := range m.GetRanges() {
			ranges = append(ranges, [2]uint64{r.GetFirst(), r.GetLast()})
		}
		w, err := newWatcher(&m)
		if err != nil {
			if c := connect.CodeOf(err); c != connect.CodeInvalidArgument && c != connect.CodeResourceExhausted {
				t.Fatalf("refused with %v: %v", c, err)
			}
			return
		}
		want := func(p uint64) bool {
			if len(pages) == 0 && len(ranges) == 0 {
				return true
			}
			for _, q := range pages {
				if q == p {
					return true
				}
			}
			for _, r := range ranges {
				if r[0] <= p && p <= r[1] {
					return true
				}
			}
			return false
		}
		probe := []uint64{0, 1, 1<<64 - 1}
		for _, p := range pages {
			probe = append(probe, p-1, p, p+1)
		}
		for _, r := range ranges {
			probe = append(probe, r[0]-1, r[0], r[0]+1, r[1]-1, r[1], r[1]+1)
		}
		for _, p := range probe {
			if got := w.wants(mmsb.PageID(p)); got != want(p) {
				t.Fatalf("page %d: selected %v, want %v (pages %v, ranges %v)", p, got, want(p), pages, ranges)
			}
		}
	})
}
