package server

import (
	"context"
	"fmt"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// The log does not record epochs, but a page's epoch is a count: a page
// starts at epoch 0 when it is created and each delta (OpDelta or
// OpDerived) on it raises it by one; nothing else changes it. So a reader
// that walks the log in LSN order and knows every page's epoch at its
// starting position knows the epoch each delta produced.
//
// The epochs at a position S come from the live bus: Bus.Pages gives, for
// each page, its epoch E and the LSN LP of its last write, read together
// under the bus's lock, so the page's epoch is E at every LSN from LP to
// now. Scanning the log over (S, M], M the largest LP, counts each page's
// deltas after S; E minus that count is the page's epoch at S. A page
// freed or created in (S, M] is left unknown: the live state says nothing
// about an earlier incarnation. Its deltas are sent with epoch 0 until its
// next creation in the stream, from which it is known again (the only
// case in which a watch reports epoch 0 for a delta).

// epochTracker follows page epochs along the log.
type epochTracker struct {
	known map[mmsb.PageID]mmsb.Epoch
}

// newEpochTracker returns a tracker positioned at LSN s: every operation
// up to s is accounted for, the next to be passed to assign is s+1.
func newEpochTracker(ctx context.Context, bus *mmsb.Bus, s mmsb.LSN) (*epochTracker, error) {
	pages, err := bus.Pages()
	if err != nil {
		return nil, err
	}
	t := &epochTracker{known: make(map[mmsb.PageID]mmsb.Epoch, len(pages))}
	var m mmsb.LSN
	for _, p := range pages {
		t.known[p.ID] = p.Epoch
		m = max(m, p.LastLSN)
	}
	if m <= s {
		return t, nil
	}
	// Every LSN up to m was applied when Pages read the state; wait until
	// the log can be read that far.
	if err := bus.WaitDurable(ctx, m); err != nil {
		return nil, err
	}
	next := s + 1
	err = bus.QueryLog(ctx, mmsb.LogQuery{FromLSN: s + 1, ToLSN: m}, func(lo *mmsb.LoggedOp) bool {
		if lo.LSN != next {
			return false
		}
		next++
		switch lo.Op.Kind {
		case mmsb.OpDelta, mmsb.OpDerived:
			if e, ok := t.known[lo.Op.Delta.Page]; ok {
				t.known[lo.Op.Delta.Page] = e - 1
			}
		case mmsb.OpCreatePage, mmsb.OpFreePage:
			// An earlier incarnation, or none, at s: unknown.
			delete(t.known, lo.Op.Page)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if next != m+1 {
		return nil, fmt.Errorf("%w: epochs: wanted LSN %d, the log starts later", mmsb.ErrLogTruncated, next)
	}
	return t, nil
}

// assign sets the epoch of each delta change in cs (the operations
// following the tracker's position, in LSN order, none skipped) and moves
// the tracker past them.
func (t *epochTracker) assign(cs []*mmsbv1.Change) {
	for _, c := range cs {
		p := mmsb.PageID(c.GetPage())
		switch c.GetKind() {
		case kindDelta, kindDerived:
			if e, ok := t.known[p]; ok {
				e++
				t.known[p] = e
				c.Epoch = uint64(e)
			}
		case kindCreate:
			t.known[p] = 0
		case kindFree:
			delete(t.known, p)
		}
	}
}

// The Change.Kind strings of the operations that move epochs.
var (
	kindDelta   = mmsb.OpDelta.String()
	kindDerived = mmsb.OpDerived.String()
	kindCreate  = mmsb.OpCreatePage.String()
	kindFree    = mmsb.OpFreePage.String()
)
