package tick

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmsb-go/mmsb"
)

// EventType says what an Event reports.
type EventType uint8

// Event types. The zero value is not a valid type.
const (
	EventDeltaCommitted  EventType = 1 // a submitted delta was committed: Page, LSN, Epoch
	EventPageRecomputed  EventType = 2 // propagation wrote a derived page: Page, LSN, Epoch
	EventFlagRaised      EventType = 3 // an edge raised flags on a page: Page, LSN, Flags (new bits), Epoch unused
	EventDeltaRejected   EventType = 4 // a submitted delta was rejected (its validation, a logged batch that failed to become durable, a size no log record carries, a bus Commit that panicked with it inside: ErrCommitPanicked): Page, Name (the delta's Source), Err; one per rejected delta (Result.Rejections keeps only the first MaxRejectionReports)
	EventRecomputeFailed EventType = 5 // a recompute function failed; its page and descendants were held back, the rest of the wave applied: Page, Name (function), Err; one per failed page, the wave's first failure first with its function's error (the others' errors are not kept)
	EventInvariantFailed EventType = 6 // an invariant hook failed: Name (hook), Err
	EventTickOverrun     EventType = 7 // the tick took longer than its budget: Duration
	numEventTypes                  = 11
)

// EventCheckpointFailed means checkpoints (automatic ones run in the background)
// failed since the previous tick, so the log is not trimmed: Err is the
// last failure. The bus's Stats has the count.
const EventCheckpointFailed EventType = 8

// EventCommitFailed means the tick's commit did not happen and its deltas
// were kept for the next tick (Result.Kept): Err says why (the bus refuses
// writes: a follower, the log's growth bound; ctx done; the bus closed or
// failed; a panic out of the commit, ErrCommitPanicked, which rejects the
// deltas inside the bus's Commit instead). Run goes on after the refusals it can outlive, so this event is
// how its caller learns of them. A batch that was logged but failed to
// become durable is not one: its deltas are rejected (EventDeltaRejected).
const EventCommitFailed EventType = 9

// EventPropagationFailed means the tick's propagation wave applied nothing
// (not a recompute failure, which applies the rest of the wave and is an
// EventRecomputeFailed): the log refused its record (ErrRecordTooLarge, the
// log's growth bound) or the bus closed or failed. Err says why; the pages
// stay pending for the next wave. Run goes on after it, so this is how its
// caller learns that derived pages are not being computed: a wave larger
// than the log's record limit was refused at every tick in silence before
// (TestRunReportsRefusedWave). A wave ended by the tick's context is not one.
// A wave in which a recompute function failed and whose record was then
// refused publishes both events: EventRecomputeFailed, then this one with
// the refusal alone.
const EventPropagationFailed EventType = 10

// String names the event type.
func (t EventType) String() string {
	switch t {
	case EventDeltaCommitted:
		return "committed"
	case EventPageRecomputed:
		return "recomputed"
	case EventFlagRaised:
		return "flag"
	case EventDeltaRejected:
		return "rejected"
	case EventRecomputeFailed:
		return "recompute-failed"
	case EventInvariantFailed:
		return "invariant-failed"
	case EventTickOverrun:
		return "overrun"
	case EventCheckpointFailed:
		return "checkpoint-failed"
	case EventCommitFailed:
		return "commit-failed"
	case EventPropagationFailed:
		return "propagation-failed"
	}
	return fmt.Sprintf("event(%d)", uint8(t))
}

// Event is one notification published at the end of a tick (or of
// FlushPropagation). Which fields are set depends on Type.
type Event struct {
	Type     EventType
	Tick     uint64      // the tick that produced it
	Page     mmsb.PageID // the page concerned (0: none)
	LSN      mmsb.LSN    // the operation's LSN (0: not logged)
	Epoch    mmsb.Epoch  // the page's epoch after the delta
	Flags    uint8       // EventFlagRaised: the bits newly set
	Name     string      // hook or function name
	Err      error       // why (rejected, recompute-failed, invariant-failed, checkpoint-failed, commit-failed, propagation-failed)
	Duration time.Duration
}

func (ev Event) String() string {
	switch ev.Type {
	case EventDeltaCommitted, EventPageRecomputed:
		return fmt.Sprintf("%v page=%d lsn=%d epoch=%d", ev.Type, ev.Page, ev.LSN, ev.Epoch)
	case EventFlagRaised:
		return fmt.Sprintf("%v page=%d lsn=%d flags=%s", ev.Type, ev.Page, ev.LSN, mmsb.FlagNames(ev.Flags))
	case EventDeltaRejected:
		return fmt.Sprintf("%v page=%d: %v", ev.Type, ev.Page, ev.Err)
	case EventRecomputeFailed:
		return fmt.Sprintf("%v page=%d fn=%s: %v", ev.Type, ev.Page, ev.Name, ev.Err)
	case EventInvariantFailed:
		return fmt.Sprintf("%v %s: %v", ev.Type, ev.Name, ev.Err)
	case EventCheckpointFailed, EventCommitFailed, EventPropagationFailed:
		return fmt.Sprintf("%v: %v", ev.Type, ev.Err)
	case EventTickOverrun:
		return fmt.Sprintf("%v %v", ev.Type, ev.Duration)
	}
	return ev.Type.String()
}

// EventFilter selects the events a subscription receives.
type EventFilter struct {
	// Pages, if non-empty, keeps only events about these pages. Events that
	// concern no page (invariant failures, overruns) are kept regardless:
	// filter those by type.
	Pages []mmsb.PageID
	// Types, if non-empty, keeps only events of these types.
	Types []EventType
}

// Subscription receives events on C until Close. Events arrive in the
// order they were produced: per tick, rejected deltas (in submission
// order), then committed and propagated operations in LSN order, then
// a recompute or propagation failure, then invariant failures, then a
// checkpoint failure, then a commit failure, then an overrun.
type Subscription struct {
	// C delivers the events. It is closed by Close (and by the
	// orchestrator's Close).
	C <-chan Event

	ch       chan Event
	done     chan struct{}
	stopOnce sync.Once // closes done
	once     sync.Once // unregisters and closes ch
	o        *Orchestrator
	id       uint64
	pages    map[mmsb.PageID]struct{}
	types    uint32 // bit t set: type t wanted
	blocking bool
	dropped  atomic.Uint64

	// sendMu is held while events are sent on ch and while ch is closed:
	// publish delivers without holding subMu, so this is what keeps a send
	// from meeting a closed channel.
	sendMu sync.Mutex
	gone   bool // ch is closed; guarded by sendMu
}

// Dropped returns how many events the subscription lost because its buffer
// was full: a non-blocking one whenever it is, a blocking one only when the
// publishing Tick's or FlushPropagation's context ended while it waited for
// the reader (Run's context, under Run).
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C. A publisher blocked on this
// subscription is released. It is safe to call more than once and from any
// goroutine, including the subscription's own reader, another
// subscription's reader and an invariant hook.
func (s *Subscription) Close() {
	s.stop() // first: a publisher blocked on ch holds sendMu
	s.once.Do(func() {
		s.o.subMu.Lock()
		s.o.subs = slices.DeleteFunc(s.o.subs, func(x *Subscription) bool { return x == s })
		s.o.refreshSubMask()
		s.o.subMu.Unlock()
		s.sendMu.Lock()
		s.gone = true
		close(s.ch)
		s.sendMu.Unlock()
	})
}

// stop releases a publisher blocked on this subscription.
func (s *Subscription) stop() { s.stopOnce.Do(func() { close(s.done) }) }

func (s *Subscription) wants(ev *Event) bool {
	if s.types&(1<<ev.Type) == 0 {
		return false
	}
	if s.pages != nil && ev.Page != 0 {
		_, ok := s.pages[ev.Page]
		return ok
	}
	return true
}

// deliverAll sends the events s wants, blocking or dropping per its mode,
// unless it has been closed. Once ctx is done a blocking subscription no
// longer waits: what does not fit in its buffer is dropped and counted.
func (s *Subscription) deliverAll(ctx context.Context, evs []Event) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.gone {
		return
	}
	for i := range evs {
		if s.wants(&evs[i]) {
			s.deliver(ctx, &evs[i])
		}
	}
}

// deliver sends ev, blocking or dropping per the subscription's mode.
// A blocking delivery waits until the reader takes ev, the subscription is
// closed, or ctx (the publishing Tick's or FlushPropagation's) is done:
// then ev is dropped, as in a non-blocking subscription, rather than make
// the tick outlive its context (it waited for ever on a reader gone,
// whatever the deadline: TestTickBadInput). Caller holds sendMu.
func (s *Subscription) deliver(ctx context.Context, ev *Event) {
	if s.blocking {
		select {
		case s.ch <- *ev:
			return
		case <-s.done:
			return
		case <-ctx.Done():
		}
	}
	select {
	case s.ch <- *ev:
	default:
		s.dropped.Add(1)
	}
}

// maxSubscriptionBuffer bounds Subscribe's bufferSize: the buffer is
// allocated up front (about 90 bytes per event), and a huge size would
// panic in make or exhaust memory.
const maxSubscriptionBuffer = 1 << 20

// Subscribe returns a subscription receiving the events that pass filter,
// through a channel buffered to bufferSize (at least 1, at most 1<<20;
// more is refused with mmsb.ErrInvalidOption). A blocking
// subscription makes the publishing tick wait for room (a slow reader slows
// the bus; it loses events only when the publishing tick's context ends
// while it waits, and counts them in Dropped); a non-blocking one drops
// events when its buffer is full and counts them in Dropped.
//
// A reader may call Subscribe, close any subscription, register or
// unregister invariants, Submit while the queue has room and Close the
// orchestrator. The reader of a blocking subscription must not call Tick or
// FlushPropagation, nor a Submit that waits for room: the tick waiting on
// that reader would wait for itself (TestSubscribersMayCallOrchestrator).
func (o *Orchestrator) Subscribe(filter EventFilter, bufferSize int, blocking bool) (*Subscription, error) {
	if bufferSize < 1 {
		bufferSize = 1
	}
	if bufferSize > maxSubscriptionBuffer {
		return nil, fmt.Errorf("%w: subscription buffer of %d events, more than %d", mmsb.ErrInvalidOption, bufferSize, maxSubscriptionBuffer)
	}
	s := &Subscription{ch: make(chan Event, bufferSize), done: make(chan struct{}), o: o, blocking: blocking}
	s.C = s.ch
	for _, t := range filter.Types {
		if t == 0 || t >= numEventTypes {
			return nil, fmt.Errorf("%w: unknown event type %d", mmsb.ErrInvalidOption, t)
		}
		s.types |= 1 << t
	}
	if s.types == 0 {
		s.types = 1<<numEventTypes - 2 // every valid type
	}
	if len(filter.Pages) > 0 {
		s.pages = make(map[mmsb.PageID]struct{}, len(filter.Pages))
		for _, p := range filter.Pages {
			s.pages[p] = struct{}{}
		}
	}
	o.subMu.Lock()
	defer o.subMu.Unlock()
	if o.closed.Load() {
		return nil, errClosed
	}
	o.nextSubID++
	s.id = o.nextSubID
	o.subs = append(o.subs, s)
	o.refreshSubMask()
	return s, nil
}

// refreshSubMask recomputes the union of wanted types. Caller holds subMu.
func (o *Orchestrator) refreshSubMask() {
	var m uint32
	for _, s := range o.subs {
		m |= s.types
	}
	o.subMask.Store(m)
}

// wantsType reports whether any subscription wants events of type t, so
// that ticks skip building events nobody reads.
func (o *Orchestrator) wantsType(t EventType) bool { return o.subMask.Load()&(1<<t) != 0 }

// publish delivers o.events to every subscription, in subscription order.
// It delivers from a snapshot of the subscriptions, without holding subMu,
// so that a reader woken by an event may Subscribe or close any
// subscription while this publish waits on a blocking one. A subscription
// added meanwhile gets events from the next publish; one closed meanwhile
// gets no more. A blocking subscription waits for its reader only until ctx
// is done (deliver). Caller holds tickMu (which guards pubTo and events).
func (o *Orchestrator) publish(ctx context.Context) {
	if len(o.events) == 0 {
		return
	}
	o.subMu.RLock()
	o.pubTo = append(o.pubTo[:0], o.subs...)
	o.subMu.RUnlock()
	for i, s := range o.pubTo {
		if o.deliverHook != nil {
			o.deliverHook(i)
		}
		s.deliverAll(ctx, o.events)
	}
	clear(o.pubTo)
	o.dropEvents()
}

// dropEvents empties the event list, keeping its buffer up to
// maxKeptEvents. Caller holds tickMu.
func (o *Orchestrator) dropEvents() {
	clear(o.events) // drop error references
	o.events = o.events[:0]
	if cap(o.events) > maxKeptEvents {
		o.events = nil
	}
}

// maxKeptEvents bounds the events a tick's event buffer keeps for reuse
// (about 90 bytes each, ~5.6 MiB). One tick that committed or recomputed
// a million pages for a subscriber left a buffer of a million events, ~90
// MB, held for the orchestrator's life (TestEventBufferBounded). Up to the
// bound the buffer is reused, so steady ticks allocate nothing; past it a
// tick allocates afresh, far less than it costs to build and send that
// many events.
const maxKeptEvents = 1 << 16

// closeSubscriptions closes every subscription (orchestrator Close).
func (o *Orchestrator) closeSubscriptions() {
	o.subMu.RLock()
	subs := slices.Clone(o.subs)
	o.subMu.RUnlock()
	// Release every blocked delivery first: a publisher blocked on one
	// subscription holds its sendMu, which Close needs.
	for _, s := range subs {
		s.stop()
	}
	for _, s := range subs {
		s.Close()
	}
}
