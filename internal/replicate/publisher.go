package replicate

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	subject  string
	term     uint64
	maxBytes int
	lease    *Lease // nil: no lease check (single-node tests)
	metrics  *Metrics

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
	seq     uint64 // the sequence the stream must assign
	last    mmsb.LSN
	started time.Time
}

// newPublisher starts a publisher for a leader of term whose stream ends at
// sequence lastSeq.
func newPublisher(js jetstream.JetStream, cfg Config, term, lastSeq uint64, lease *Lease, m *Metrics) *Publisher {
	p := &Publisher{
		js: js, subject: cfg.Subject(), term: term, maxBytes: cfg.MaxRecordBytes, lease: lease, metrics: m,
		lastSeq: lastSeq,
		queue:   make(chan inflight, cfg.MaxInFlight),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	go p.ackLoop()
	return p
}

// MaxRecordBytes implements mmsb.Replicator.
func (p *Publisher) MaxRecordBytes() int { return p.maxBytes }

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
	fut, err := p.js.PublishMsgAsync(msg, jetstream.WithExpectLastSequence(p.lastSeq))
	if err != nil {
		p.setErr(fmt.Errorf("replicate: publish LSN %d..%d: %w", rec.FirstLSN, rec.LastLSN, err))
		return p.Err()
	}
	p.lastSeq++
	p.queue <- inflight{fut: fut, seq: p.lastSeq, last: rec.LastLSN, started: time.Now()}
	return nil
}

// ackLoop waits for the acknowledgements in publish order.
func (p *Publisher) ackLoop() {
	defer close(p.done)
	for in := range p.queue {
		select {
		case ack := <-in.fut.Ok():
			switch {
			case ack.Sequence != in.seq:
				p.setErr(fmt.Errorf("%w: record ending at LSN %d stored at sequence %d, expected %d", ErrFenced, in.last, ack.Sequence, in.seq))
			default:
				p.metrics.PublishLatency.Observe(time.Since(in.started))
				p.metrics.RecordsPublished.Add(1)
				p.metrics.AppliedLSN.Store(uint64(in.last))
				p.mu.Lock()
				p.stored = in.last
				p.notifyLocked()
				p.mu.Unlock()
			}
		case err := <-in.fut.Err():
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
				p.metrics.FencedPublishes.Add(1)
				err = fmt.Errorf("%w: %w", ErrFenced, err)
			}
			p.setErr(fmt.Errorf("replicate: record ending at LSN %d not stored: %w", in.last, err))
		}
	}
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
}
