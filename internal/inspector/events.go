package inspector

import (
	"context"
	"errors"
	"sync"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/wire"
	"github.com/mmsb-go/mmsb/tick"
)

// inspectedEvents are the tick events the Events view shows: the ones that
// need a person's attention. Per-delta commits and recomputes are left out
// (the Pages view and the log browser show those), or a busy bus would
// drown the few that matter.
var inspectedEvents = []tick.EventType{
	tick.EventFlagRaised, tick.EventDeltaRejected, tick.EventRecomputeFailed,
	tick.EventInvariantFailed, tick.EventTickOverrun, tick.EventCheckpointFailed,
	tick.EventCommitFailed, tick.EventPropagationFailed,
}

// eventRing keeps the most recent events and wakes streams waiting for more.
type eventRing struct {
	mu    sync.Mutex
	buf   []*inspectorv1.Event
	next  uint64        // sequence number of the next event appended
	woken chan struct{} // closed (and replaced) on every append
}

func (r *eventRing) init(n int) {
	r.buf = make([]*inspectorv1.Event, n)
	r.woken = make(chan struct{})
}

func (r *eventRing) add(ev *inspectorv1.Event) {
	r.mu.Lock()
	r.buf[r.next%uint64(len(r.buf))] = ev
	r.next++
	close(r.woken)
	r.woken = make(chan struct{})
	r.mu.Unlock()
}

// since returns the events numbered from seq on that the ring still holds,
// the sequence number to ask for next, and a channel closed by the next add.
func (r *eventRing) since(seq uint64) ([]*inspectorv1.Event, uint64, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := uint64(len(r.buf)); r.next > n && seq < r.next-n {
		seq = r.next - n
	}
	var out []*inspectorv1.Event
	for ; seq < r.next; seq++ {
		out = append(out, r.buf[seq%uint64(len(r.buf))])
	}
	return out, seq, r.woken
}

func (in *Inspector) collectEvents(ctx context.Context, sub *tick.Subscription) {
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			in.events.add(eventOut(&ev))
		}
	}
}

func eventOut(ev *tick.Event) *inspectorv1.Event {
	out := &inspectorv1.Event{
		Type:            ev.Type.String(),
		Tick:            ev.Tick,
		Page:            uint64(ev.Page),
		Lsn:             uint64(ev.LSN),
		Flags:           uint32(ev.Flags),
		Name:            eventText(ev.Name),
		DurationSeconds: ev.Duration.Seconds(),
		TimeUnixNano:    time.Now().UnixNano(),
		Text:            eventText(ev.String()),
	}
	if ev.Err != nil {
		out.Error = eventText(ev.Err.Error())
	}
	return out
}

// maxEventText bounds each text of an event (name, error, text), in bytes.
const maxEventText = 1024

// eventText returns s as an event's text: valid UTF-8 (wire.ValidText), cut at
// maxEventText bytes (on a rune boundary, marked "…"). The ring keeps 256
// events and every Events stream opened gets them all: a refused AddEdge
// names every page of the cycle it would close, 8 MB of text for a chain
// of a million pages, so 256 of them held gigabytes
// (TestEventTextIsBounded).
func eventText(s string) string { return cutText(s, maxEventText) }

// cutText returns s valid UTF-8 (wire.ValidText) and, when longer than most
// bytes, cut there on a rune boundary and marked "…".
func cutText(s string, most int) string {
	if len(s) > most+utf8.UTFMax {
		// Only the first most bytes are shown: escaping more is work
		// for nothing (a 64 KiB mmsb.type of invalid bytes was escaped
		// whole for each row listing it, 2 s for 100 rows). Escaping
		// only lengthens, so these bytes still escape to more than
		// most, and a rune this cut splits escapes past the cut.
		s = s[:most+utf8.UTFMax]
	}
	s = wire.ValidText(s)
	if len(s) <= most {
		return s
	}
	n := most
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Interceptor returns a Connect interceptor for the server's BusService
// that records refused cycles (an AddEdge or Bind that would close a cycle
// fails with mmsb.ErrCycle) as "cycle-refused" events: the refusal goes back
// to the caller as an error, and the Events view shows it to whoever
// watches the bus.
func (in *Inspector) Interceptor() connect.Interceptor { return cycleRecorder{in} }

type cycleRecorder struct{ in *Inspector }

func (c cycleRecorder) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		if err != nil && !req.Spec().IsClient && errors.Is(err, mmsb.ErrCycle) {
			ev := &inspectorv1.Event{
				Type: "cycle-refused", Name: req.Spec().Procedure, Error: eventText(err.Error()),
				TimeUnixNano: time.Now().UnixNano(), Text: eventText("refused: " + err.Error()),
			}
			switch m := req.Any().(type) {
			case *mmsbv1.AddEdgeRequest:
				ev.Page = m.GetChild()
			case *mmsbv1.BindRequest:
				ev.Page = m.GetChild()
			}
			c.in.events.add(ev)
		}
		return resp, err
	}
}

func (c cycleRecorder) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (c cycleRecorder) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
