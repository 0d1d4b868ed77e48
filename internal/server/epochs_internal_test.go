package server

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// trueEpochs replays the log from LSN 1, counting (a create starts a page
// at 0, each delta adds one), and returns the epoch each delta produced,
// by LSN. It checks the count against the epochs the bus returned from
// Commit (want).
func trueEpochs(t *testing.T, bus *mmsb.Bus, want map[mmsb.LSN]mmsb.Epoch) map[mmsb.LSN]mmsb.Epoch {
	t.Helper()
	cur := map[mmsb.PageID]mmsb.Epoch{}
	out := map[mmsb.LSN]mmsb.Epoch{}
	err := bus.QueryLog(context.Background(), mmsb.LogQuery{FromLSN: 1}, func(lo *mmsb.LoggedOp) bool {
		switch lo.Op.Kind {
		case mmsb.OpCreatePage:
			cur[lo.Op.Page] = 0
		case mmsb.OpDelta, mmsb.OpDerived:
			cur[lo.Op.Delta.Page]++
			out[lo.LSN] = cur[lo.Op.Delta.Page]
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for l, e := range want {
		if out[l] != e {
			t.Fatalf("LSN %d: counting gives epoch %d, Commit returned %d", l, out[l], e)
		}
	}
	return out
}

// TestEpochTracker: a tracker built at any position S and fed the log
// from S+1 gives every delta the epoch the bus gave it, except a delta on
// a page freed or created after S (up to the tracker's build) and not
// created again before the delta: that one is 0, never wrong.
func TestEpochTracker(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	ctx := context.Background()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[mmsb.LSN]mmsb.Epoch{}
	rng := rand.New(rand.NewPCG(5, 6))
	commit := func() {
		ds := make([]mmsb.Delta, 1+rng.IntN(4))
		for i := range ds {
			ds[i] = mmsb.Write(ids[rng.IntN(len(ids))], uint32(rng.IntN(8)), []byte{byte(i)})
		}
		if _, err := bus.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			want[d.LSN] = d.Epoch
		}
	}
	for range 20 {
		commit()
	}
	// Bases taken along the way, for trackers that scan forward from them
	// (Server.epochTracker shares a base older than the watch's start).
	var bases []*epochBase
	snap := func() {
		b, err := newEpochBase(bus)
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, b)
	}
	snap()
	// Recycle a page: free it, create it again with the same ID, write it.
	recycled := ids[2]
	if err := bus.FreePage(ctx, recycled); err != nil {
		t.Fatal(err)
	}
	snap()
	if _, err := bus.CreatePages(ctx, []mmsb.PageSpec{{ID: recycled, Size: 8}}); err != nil {
		t.Fatal(err)
	}
	snap()
	for range 20 {
		commit()
	}
	truth := trueEpochs(t, bus, want)
	last := bus.LastLSN()
	// The log's free and create LSNs of each page.
	lifecycle := map[mmsb.PageID][]mmsb.LSN{}
	creates := map[mmsb.PageID][]mmsb.LSN{}
	_ = bus.QueryLog(ctx, mmsb.LogQuery{FromLSN: 1}, func(lo *mmsb.LoggedOp) bool {
		if lo.Op.Kind == mmsb.OpCreatePage || lo.Op.Kind == mmsb.OpFreePage {
			lifecycle[lo.Op.Page] = append(lifecycle[lo.Op.Page], lo.LSN)
		}
		if lo.Op.Kind == mmsb.OpCreatePage {
			creates[lo.Op.Page] = append(creates[lo.Op.Page], lo.LSN)
		}
		return true
	})
	zeros, forward := 0, 0
	for s := mmsb.LSN(0); s <= last; s++ {
		tr, err := newEpochTracker(ctx, bus, s)
		if err != nil {
			t.Fatal(err)
		}
		// From an older base, scanning forward to s: an epoch is exact or
		// 0, never wrong (forward it knows more: a page created between
		// the base and s starts at 0).
		for _, b := range bases {
			if b.at > s {
				continue
			}
			ftr, err := newEpochTrackerOn(ctx, bus, b, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			cs, _, err := readChanges(ctx, bus, s+1, last)
			if s == last {
				cs, err = nil, nil
			}
			if err != nil {
				t.Fatal(err)
			}
			ftr.assign(cs)
			for _, c := range cs {
				if c.GetKind() == kindDelta && c.GetEpoch() != 0 {
					forward++
					if want := truth[mmsb.LSN(c.GetLsn())]; mmsb.Epoch(c.GetEpoch()) != want {
						t.Fatalf("tracker at %d on a base at %d: LSN %d (page %d) has epoch %d, want %d", s, b.at, c.GetLsn(), c.GetPage(), c.GetEpoch(), want)
					}
				}
			}
		}
		cs, _, err := readChanges(ctx, bus, s+1, last)
		if s == last {
			cs, err = nil, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		tr.assign(cs)
		for _, c := range cs {
			if c.GetKind() != kindDelta {
				continue
			}
			l, p := mmsb.LSN(c.GetLsn()), mmsb.PageID(c.GetPage())
			want := truth[l]
			// Unknown: a free or create of p after s, and no create of p
			// in (s, l).
			changedAfterS, createdBefore := false, false
			for _, x := range lifecycle[p] {
				changedAfterS = changedAfterS || x > s
			}
			for _, x := range creates[p] {
				createdBefore = createdBefore || (x > s && x < l)
			}
			if changedAfterS && !createdBefore {
				want = 0
				zeros++
			}
			if mmsb.Epoch(c.GetEpoch()) != want {
				t.Fatalf("tracker at %d: LSN %d (page %d) has epoch %d, want %d", s, l, p, c.GetEpoch(), want)
			}
		}
	}
	if forward == 0 {
		t.Fatal("no tracker on an older base assigned an epoch")
	}
	if zeros == 0 {
		t.Fatal("no position left a delta's epoch unknown: the recycled page was not exercised")
	}
}
