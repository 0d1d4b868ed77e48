package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/logquery"
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

// Trackers share their starting point. Each catching-up watcher once
// built its own map of every page's epoch: N watchers catching up on a bus
// of P pages held N×P entries, 44 bytes each (TestCatchingUpWatcherEpochMemory:
// 46 MB per watcher on 2^20 pages). Now an epochBase, every page's epoch at
// one LSN in a sorted slice (16 bytes a page), is built once and shared;
// a tracker at S scans the log between the base's LSN and S (forward or
// backward, the rule above read either way) and keeps in its own overlay
// only the pages whose epoch differs from the base's: the pages written
// in that stretch and in the stretch it then follows, and only the pages
// its watch selected. Server.epochTracker rebuilds the shared base when it
// is further from S than a fresh one would be (plus a step), so that the
// scan stays no longer than a fresh build's.

// pageEpoch is one page's epoch in an epochBase.
type pageEpoch struct {
	id    mmsb.PageID
	epoch mmsb.Epoch
}

// epochBase is every live page's epoch at LSN at, sorted by page;
// immutable, shared by the trackers built on it. A page absent from it is
// unknown at at (it did not exist, or it was freed before Pages read).
type epochBase struct {
	at    mmsb.LSN
	pages []pageEpoch
}

// newEpochBase reads every page's epoch from the live bus.
func newEpochBase(bus *mmsb.Bus) (*epochBase, error) {
	// The LSN before Pages: the state Pages reads is the state at every LSN
	// from the largest LastLSN of a page up to the bus's LSN while Pages
	// held the lock, which is at least this one.
	before := bus.LastLSN()
	pages, err := bus.Pages()
	if err != nil {
		return nil, fmt.Errorf("epochs: %w", err)
	}
	b := &epochBase{at: before, pages: make([]pageEpoch, len(pages))}
	for i, p := range pages {
		b.pages[i] = pageEpoch{p.ID, p.Epoch}
		b.at = max(b.at, p.LastLSN)
	}
	slices.SortFunc(b.pages, func(x, y pageEpoch) int { return cmp.Compare(x.id, y.id) })
	return b, nil
}

func (b *epochBase) lookup(p mmsb.PageID) (mmsb.Epoch, bool) {
	i, ok := slices.BinarySearchFunc(b.pages, p, func(x pageEpoch, p mmsb.PageID) int { return cmp.Compare(x.id, p) })
	if !ok {
		return 0, false
	}
	return b.pages[i].epoch, true
}

// overEpoch is a page's epoch in a tracker's overlay, or unknown.
type overEpoch struct {
	epoch mmsb.Epoch
	known bool
}

// epochTracker follows page epochs along the log.
type epochTracker struct {
	base  *epochBase                // nil while parked
	gen   uint64                    // the Server.epochBaseGen of base
	over  map[mmsb.PageID]overEpoch // the pages whose epoch is not base's
	wants func(mmsb.PageID) bool    // the pages followed (nil: all)
}

func (t *epochTracker) get(p mmsb.PageID) (mmsb.Epoch, bool) {
	if o, ok := t.over[p]; ok {
		return o.epoch, o.known
	}
	return t.base.lookup(p)
}

func (t *epochTracker) forget(p mmsb.PageID) {
	if _, ok := t.over[p]; ok {
		t.over[p] = overEpoch{}
	} else if _, ok := t.base.lookup(p); ok {
		t.over[p] = overEpoch{}
	} // else unknown already
}

// newEpochTracker returns a tracker positioned at LSN s on a base of its
// own: every operation up to s is accounted for, the next to be passed to
// assign is s+1.
func newEpochTracker(ctx context.Context, bus *mmsb.Bus, s mmsb.LSN) (*epochTracker, error) {
	b, err := newEpochBase(bus)
	if err != nil {
		return nil, err
	}
	return newEpochTrackerOn(ctx, bus, b, s, nil)
}

// newEpochTrackerOn returns a tracker positioned at LSN s on base b,
// following the pages wants selects (nil: all).
func newEpochTrackerOn(ctx context.Context, bus *mmsb.Bus, b *epochBase, s mmsb.LSN, wants func(mmsb.PageID) bool) (*epochTracker, error) {
	t := &epochTracker{base: b, over: map[mmsb.PageID]overEpoch{}, wants: wants}
	if b.at == s {
		return t, nil
	}
	from, to := s+1, b.at
	if b.at < s {
		from, to = b.at+1, s
	} else if err := bus.WaitDurable(ctx, b.at); err != nil {
		// Every LSN up to b.at was applied when Pages read the state; wait
		// until the log can be read that far.
		return nil, fmt.Errorf("epochs: %w", err)
	}
	backward := b.at > s
	next := from
	// The replay counts writes; a derived write's parent reads are passed
	// over, not decoded (TestLogReadsSkipParentReads).
	err := bus.QueryLog(logquery.WithoutParentReads(ctx), mmsb.LogQuery{FromLSN: from, ToLSN: to}, func(lo *mmsb.LoggedOp) bool {
		if lo.LSN != next {
			return false
		}
		next++
		switch lo.Op.Kind {
		case mmsb.OpDelta, mmsb.OpDerived:
			p := lo.Op.Delta.Page
			if t.wants != nil && !t.wants(p) {
				break
			}
			if e, ok := t.get(p); ok {
				if backward {
					t.over[p] = overEpoch{e - 1, true}
				} else {
					t.over[p] = overEpoch{e + 1, true}
				}
			}
		case mmsb.OpCreatePage:
			if t.wants != nil && !t.wants(lo.Op.Page) {
				break
			}
			if backward {
				t.forget(lo.Op.Page) // an earlier incarnation, or none, at s: unknown
			} else {
				t.over[lo.Op.Page] = overEpoch{0, true}
			}
		case mmsb.OpFreePage:
			if t.wants == nil || t.wants(lo.Op.Page) {
				t.forget(lo.Op.Page)
			}
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("epochs: %w", err)
	}
	if next != to+1 {
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
		if t.wants != nil && !t.wants(p) {
			continue // not sent: its epoch is never asked for
		}
		switch c.GetKind() {
		case kindDelta, kindDerived:
			if e, ok := t.get(p); ok {
				e++
				t.over[p] = overEpoch{e, true}
				c.Epoch = uint64(e)
			}
		case kindCreate:
			t.over[p] = overEpoch{0, true}
		case kindFree:
			t.forget(p)
		}
	}
}

// epochTracker returns a tracker positioned at s for a watch selecting
// the pages wants selects (nil: all), on the server's shared base. The
// base is rebuilt, under the lock so that watchers catching up together
// build it once, when it is further from s than a fresh one (at about the
// bus's LSN) by more than a step, or when the log no longer reaches it.
func (s *Server) epochTracker(ctx context.Context, at mmsb.LSN, wants func(mmsb.PageID) bool) (*epochTracker, error) {
	s.epochBaseMu.Lock()
	defer s.epochBaseMu.Unlock()
	dist := func(a, b mmsb.LSN) mmsb.LSN { return max(a, b) - min(a, b) }
	if b := s.epochBase; b != nil && dist(b.at, at) <= dist(s.bus.LastLSN(), at)+hubStep {
		t, err := newEpochTrackerOn(ctx, s.bus, b, at, wants)
		if !errors.Is(err, mmsb.ErrLogTruncated) {
			if t != nil {
				t.gen = s.epochBaseGen
			}
			return t, err
		}
		// Compacted between the base and at: a fresh base is after at.
	}
	b, err := newEpochBase(s.bus)
	if err != nil {
		return nil, err
	}
	s.epochBase = b
	s.epochBaseGen++
	t, err := newEpochTrackerOn(ctx, s.bus, b, at, wants)
	if t != nil {
		t.gen = s.epochBaseGen
	}
	return t, err
}

// A watcher catching up sends each step it read, and a client that stops
// reading stalls it there for as long as it keeps its connection open.
// A tracker kept its base meanwhile: once the server had replaced the
// shared base, each stalled watcher could hold a base of every page of
// its own (TestStalledWatcherReleasesEpochBase). So a watcher parks its
// tracker while it sends (the tracker drops its base) and unparks it
// after: the tracker takes the base back if it is still the server's,
// and is rebuilt at the watcher's position otherwise, as if the watch
// started there. A parked tracker keeps its overlay, which is bounded by
// the stretch of log it scanned and its own steps, not by the bus.

// park drops t's reference to its base until unparkEpochs.
func (t *epochTracker) park() { t.base = nil }

// unparkEpochs gives the parked t its base back; false when the server
// rebuilt the base meanwhile (t is then of no use: build another).
func (s *Server) unparkEpochs(t *epochTracker) bool {
	s.epochBaseMu.Lock()
	defer s.epochBaseMu.Unlock()
	if s.epochBase == nil || t.gen != s.epochBaseGen {
		return false
	}
	t.base = s.epochBase
	return true
}

// The Change.Kind strings of the operations that move epochs.
var (
	kindDelta   = mmsb.OpDelta.String()
	kindDerived = mmsb.OpDerived.String()
	kindCreate  = mmsb.OpCreatePage.String()
	kindFree    = mmsb.OpFreePage.String()
)
