package replicate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// Publisher errors.
var (
	// ErrFenced: the stream refused a publish because its last sequence was
	// not the one this leader expected: another leader has published since.
	// This leader must step down.
	ErrFenced = errors.New("replicate: fenced: another leader published to the stream")
	// ErrLeaseLost: the leader lease was not renewed in time; the leader
	// stops committing.
	ErrLeaseLost = errors.New("replicate: leader lease lost")
	// ErrPublisherClosed: the publisher was closed.
	ErrPublisherClosed = errors.New("replicate: publisher closed")
)

// Publisher is the leader side: an mmsb.Replicator that publishes every
// record to the stream as one message, with up to Config.MaxInFlight
// publishes awaiting acknowledgement, acknowledged in log order. Every
// publish carries Nats-Expected-Last-Sequence (the stream sequence of the
// previous record), so a publish from a leader that was superseded is
// refused by the stream itself. The first error stops it for good.
type Publisher struct {
	js       jetstream.JetStream
	stream   jetstream.Stream
	subject  string
	term     uint64
	maxBytes int
	lease    *Lease // nil: no lease check (single-node tests)
	metrics  *Metrics

	ackTimeout time.Duration

	// conn is the connection the publishes go through; downSince is the
	// unix ns since which it has been seen down (0 while connected),
	// kept by watchDown until close stops it (stopWatch, watchDone).
	// downGrace is readyGrace, read when the publisher is made.
	conn                 *nats.Conn
	downSince            atomic.Int64
	downGrace            time.Duration
	stopWatch, watchDone chan struct{}

	lastSeq uint64 // stream sequence of the last published record; guarded by the bus lock (Replicate)

	queue chan inflight
	done  chan struct{}

	mu      sync.Mutex
	stored  mmsb.LSN
	err     error
	changed chan struct{} // closed and replaced whenever stored or err changes
}

type inflight struct {
	fut     jetstream.PubAckFuture
	msg     *nats.Msg
	seq     uint64 // the sequence the stream must assign
	last    mmsb.LSN
	started time.Time
}

// newPublisher starts a publisher for a leader of term whose stream ends at
// sequence lastSeq holding every record up to LSN stored (the leader caught
// up to it: those records count as stored, WaitStored does not wait for
// them).
func newPublisher(res *resources, term, lastSeq uint64, stored mmsb.LSN, lease *Lease, m *Metrics) *Publisher {
	cfg := res.cfg
	p := &Publisher{
		js: res.js, stream: res.stream, subject: cfg.Subject(), term: term, maxBytes: cfg.MaxRecordBytes, lease: lease, metrics: m,
		ackTimeout: cfg.AckTimeout,
		lastSeq:    lastSeq,
		stored:     stored,
		queue:      make(chan inflight, cfg.MaxInFlight),
		done:       make(chan struct{}),
		changed:    make(chan struct{}),
		conn:       res.js.Conn(),
		downGrace:  readyGrace,
		stopWatch:  make(chan struct{}),
		watchDone:  make(chan struct{}),
	}
	go p.ackLoop()
	go p.watchDown()
	return p
}

// readyGrace is how long the leader's connection must have been down
// before Ready refuses records: a connection whose server stopped moves
// to another server of the list within a reconnect (100 ms apart), and a
// commit taken meanwhile is published once it has (one server of three
// stopped: commits go on, TestOneServerOfThreeStops); refused, it failed
// for nothing. A variable so that tests can set it (before the
// publisher is made).
var readyGrace = 2 * time.Second

// watchDown keeps downSince: the time the connection was first seen
// down since it was last seen connected, 0 while it is connected.
func (p *Publisher) watchDown() {
	defer close(p.watchDone)
	ch := p.conn.StatusChanged(nats.CONNECTED, nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED)
	defer p.conn.RemoveStatusListener(ch)
	for {
		// Read after registering and after each event, so that an
		// event the listener's full buffer dropped changes nothing.
		if p.conn.IsConnected() {
			p.downSince.Store(0)
		} else {
			p.downSince.CompareAndSwap(0, time.Now().UnixNano())
		}
		select {
		case <-p.stopWatch:
			return
		case <-ch:
		}
	}
}

// MaxRecordBytes implements mmsb.Replicator.
func (p *Publisher) MaxRecordBytes() int { return p.maxBytes }

// Ready is what the bus asks before it logs a record (an optional method
// of mmsb.Replicator): ErrStreamUnavailable wrapping ErrServerUnreachable
// once the leader's NATS connection has been down for readyGrace (2 s),
// which refuses the record before it is logged, so that the commit fails
// at once and the bus goes on. Taken, the record waited for its
// acknowledgement for up to 2 × AckTimeout (nats.go holds a publish while
// it reconnects), then failed the bus and ended the role
// (TestLeaderCommitRefusedWhileConnectionDown). Within the grace a record
// is taken, as before: the connection may be moving to another server
// (TestPublisherReadyRidesOutReconnect). Records taken still wait for
// their acknowledgement: none counts as stored without it. Failing lease
// renewals refuse nothing here: they fail for a cluster without its
// quorum, but also for the seconds a stream whose leader's server stopped
// takes to elect another, which commits ride out (TestOneServerOfThreeStops);
// docs/replication.md, "A commit logged but not acknowledged".
func (p *Publisher) Ready() error {
	if p.conn.IsConnected() {
		return nil
	}
	if p.downGrace > 0 {
		since := p.downSince.Load()
		if since == 0 || time.Since(time.Unix(0, since)) < p.downGrace {
			return nil
		}
	}
	if u := unreachable(p.conn); u != nil {
		return fmt.Errorf("%w: the leader's NATS connection is down: %w", ErrStreamUnavailable, u)
	}
	return nil
}

// Replicate implements mmsb.Replicator: it queues the record's publish and
// returns (blocking only while MaxInFlight publishes await their acks).
func (p *Publisher) Replicate(rec *mmsb.ReplicatedRecord) error {
	if err := p.Err(); err != nil {
		return err
	}
	if p.lease != nil && !p.lease.Valid() {
		p.setErr(fmt.Errorf("%w: not renewed within its TTL", ErrLeaseLost))
		return p.Err()
	}
	msg := &nats.Msg{Subject: p.subject, Header: nats.Header{}, Data: append([]byte(nil), rec.Payload...)}
	recordHeaders(msg.Header, p.term, rec)
	keep := &nats.Msg{Subject: msg.Subject, Header: cloneHeader(msg.Header), Data: msg.Data}
	fut, err := p.js.PublishMsgAsync(msg, jetstream.WithExpectLastSequence(p.lastSeq))
	if err != nil {
		p.setErr(fmt.Errorf("replicate: publish LSN %d..%d: %w", rec.FirstLSN, rec.LastLSN, err))
		return p.Err()
	}
	p.lastSeq++
	p.queue <- inflight{fut: fut, msg: keep, seq: p.lastSeq, last: rec.LastLSN, started: time.Now()}
	return nil
}

func cloneHeader(h nats.Header) nats.Header {
	c := make(nats.Header, len(h))
	for k, v := range h {
		c[k] = append([]string(nil), v...)
	}
	return c
}

// isFence reports whether err is the stream refusing a publish whose
// expected last sequence is not its last sequence.
func isFence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// ackLoop waits for the acknowledgements in publish order. When a publish
// fails for a reason other than the fence (the connection dropped and
// reconnected to another server, a timeout while the stream elected a new
// leader), it and every later publish still queued are republished one at
// a time, in order, with the same Nats-Msg-Id and expected sequence: a
// record the stream already stored is acknowledged as a duplicate, one it
// lost is stored now, and a record another leader fenced stays refused.
// Later publishes that raced ahead of a republished one are refused by the
// fence (their expected sequence is not yet the last) and republished too.
// A fence error is final only when the stream shows another record at the
// sequence or a newer term (checkFence); when it shows this very record
// there (stored by an attempt whose ack was lost), the record is stored.
// A duplicate acknowledgement counts only once the stored message is seen
// to be this record (checkDuplicate).
func (p *Publisher) ackLoop() {
	defer close(p.done)
	for in := range p.queue {
		var ack *jetstream.PubAck
		var err error
		select {
		case ack = <-in.fut.Ok():
		case err = <-in.fut.Err():
		}
		// A publish refused after the publisher failed proves nothing about
		// another leader: the stream refuses every publish queued behind a
		// record it never stored.
		failed := p.Err() != nil
		if err != nil && !failed {
			ack, err = p.republish(in, err)
		}
		if err == nil && ack.Sequence != in.seq {
			err = fmt.Errorf("%w: record ending at LSN %d stored at sequence %d, expected %d", ErrFenced, in.last, ack.Sequence, in.seq)
		}
		if err == nil && ack.Duplicate {
			err = p.checkDuplicate(in)
		}
		if err != nil {
			if isFence(err) && !failed {
				p.metrics.FencedPublishes.Add(1)
				err = fmt.Errorf("%w: %w", ErrFenced, err)
			}
			p.setErr(notStored(in.last, err))
			continue
		}
		p.metrics.ObservePublish(time.Since(in.started))
		p.metrics.RecordsPublished.Add(1)
		p.metrics.AppliedLSN.Store(uint64(in.last))
		p.mu.Lock()
		p.stored = in.last
		p.notifyLocked()
		p.mu.Unlock()
	}
}

// notStored is the publisher's error for the record ending at LSN last,
// which err kept from being acknowledged. Fenced, the stream holds
// another leader's record at its sequence: it is not stored. Otherwise
// (no acknowledgement in time, a duplicate that could not be read back)
// nothing tells: the stream may hold it, or store it still (nats.go
// resends a publish it buffered once it reconnects), or not. The error
// says the outcome is unknown, so that the caller does not take it for a
// refusal and commit the batch again, which would apply it twice once the
// stream turns out to hold it (TestCommitWithoutAckSaysOutcomeUnknown);
// it said "not stored" for both.
func notStored(last mmsb.LSN, err error) error {
	if errors.Is(err, ErrFenced) {
		return fmt.Errorf("replicate: record ending at LSN %d not stored: %w", last, err)
	}
	return fmt.Errorf("replicate: record ending at LSN %d not acknowledged, its outcome unknown (the stream may hold it or not; a new leader's state tells): %w", last, err)
}

// checkFence tells a real fence from a stream that is briefly behind
// (after its leader moved, a new stream leader may not have applied the
// last committed messages yet and refuses the next expected sequence): it
// returns an ack when the stream holds this very record at its sequence,
// fenced when a newer term published or another record holds the sequence,
// and neither when the stream is merely behind or cannot be read (retry).
func (p *Publisher) checkFence(in inflight) (ack *jetstream.PubAck, fenced bool) {
	ctx, cancel := context.WithTimeout(context.Background(), p.ackTimeout)
	defer cancel()
	m, err := p.stream.GetMsg(ctx, in.seq)
	switch {
	case err == nil:
		if sameRecord(m, in) {
			return &jetstream.PubAck{Sequence: in.seq}, false
		}
		return nil, true
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		// Unreadable (the disruption that lost the acknowledgement may
		// still be on): the sequence may hold this very record, so
		// the stream's last message proves nothing yet. Ask again.
		return nil, false
	}
	last, err := p.stream.GetLastMsgForSubject(ctx, p.subject)
	if err != nil {
		return nil, false
	}
	if meta, err := parseHeaders(last.Header); err == nil && meta.Term > p.term || last.Sequence >= in.seq {
		return nil, true
	}
	return nil, false
}

// sameRecord reports whether the stream message m is the record of in: the
// same message ID, LSN range, term, state hash and payload. The message ID
// alone does not prove it: two leaders of one term (the second took over
// before the first published anything, so both lead "last term + 1") give
// their first records the same ID, and a replicated stream deduplicates
// before it checks the expected last sequence.
func sameRecord(m *jetstream.RawStreamMsg, in inflight) bool {
	for _, k := range []string{nats.MsgIdHdr, HeaderFirstLSN, HeaderLastLSN, HeaderTerm, HeaderStateHash} {
		if m.Header.Get(k) != in.msg.Header.Get(k) {
			return false
		}
	}
	return bytes.Equal(m.Data, in.msg.Data)
}

// checkDuplicateAttempts bounds the reads of checkDuplicate: a read that
// fails (a timeout while the stream elects a leader, the connection moving
// to another server) is tried again this many times in all, within
// 2 × AckTimeout, before the record counts as not stored.
const checkDuplicateAttempts = 5

// checkDuplicate verifies a duplicate acknowledgement: the stream stored a
// message with this record's ID at its sequence before, and it must be this
// record, not another same-term leader's (sameRecord). Anything else is the
// fence. A read that fails proves nothing either way and is tried again
// (checkDuplicateAttempts, 2 × AckTimeout in all); only the last failure
// fails the publisher.
func (p *Publisher) checkDuplicate(in inflight) error {
	deadline := time.Now().Add(2 * p.ackTimeout)
	var m *jetstream.RawStreamMsg
	var err error
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), min(p.ackTimeout, max(time.Until(deadline), time.Millisecond)))
		m, err = p.stream.GetMsg(ctx, in.seq)
		cancel()
		if err == nil {
			break
		}
		if attempt >= checkDuplicateAttempts || !time.Now().Before(deadline) {
			return fmt.Errorf("duplicate acknowledgement at sequence %d not verified after %d reads: %w", in.seq, attempt, err)
		}
		time.Sleep(min(time.Duration(attempt)*50*time.Millisecond, time.Until(deadline)))
	}
	if !sameRecord(m, in) {
		p.metrics.FencedPublishes.Add(1)
		return fmt.Errorf("%w: sequence %d holds another leader's record with this record's message ID %s", ErrFenced, in.seq, in.msg.Header.Get(nats.MsgIdHdr))
	}
	return nil
}

// republish publishes in again synchronously until the stream answers or
// 2 × AckTimeout have passed since its first publish; the fence ends it.
func (p *Publisher) republish(in inflight, cause error) (*jetstream.PubAck, error) {
	deadline := in.started.Add(2 * p.ackTimeout)
	err := cause
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), min(p.ackTimeout, time.Until(deadline)))
		msg := &nats.Msg{Subject: in.msg.Subject, Header: cloneHeader(in.msg.Header), Data: in.msg.Data}
		var ack *jetstream.PubAck
		ack, err = p.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequence(in.seq-1))
		cancel()
		if err == nil {
			return ack, nil
		}
		if isFence(err) {
			ack, fenced := p.checkFence(in)
			if ack != nil {
				return ack, nil // stored by an earlier attempt whose ack was lost
			}
			if fenced {
				return nil, err
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if isFence(err) {
		// Refused, but checkFence saw neither another record at the
		// sequence nor a newer term: the stream stayed behind this
		// leader, or could not be read. No other leader is known to have
		// published, so this is no fence (the refusal is quoted, not
		// wrapped, so that ackLoop does not count it as one).
		return nil, fmt.Errorf("no acknowledgement within %v: the stream did not confirm sequence %d (%v)", 2*p.ackTimeout, in.seq, err) //nolint:errorlint // quoted on purpose, see above
	}
	return nil, fmt.Errorf("no acknowledgement within %v: %w", 2*p.ackTimeout, err)
}

func (p *Publisher) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Publisher) setErr(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
		p.notifyLocked()
	}
	p.mu.Unlock()
}

// Err returns the error that stopped the publisher, if any.
func (p *Publisher) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Stored returns the last LSN the stream acknowledged.
func (p *Publisher) Stored() mmsb.LSN {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stored
}

// WaitStored implements mmsb.Replicator.
func (p *Publisher) WaitStored(ctx context.Context, lsn mmsb.LSN) error {
	for {
		p.mu.Lock()
		stored, err, ch := p.stored, p.err, p.changed
		p.mu.Unlock()
		if stored >= lsn {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close stops the publisher after the bus stopped calling Replicate; it
// waits for the acknowledgements still in flight.
func (p *Publisher) close() {
	close(p.queue)
	<-p.done
	p.setErr(ErrPublisherClosed)
	close(p.stopWatch)
	<-p.watchDone
}
