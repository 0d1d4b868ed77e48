package replicate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// leaseKey is the key of the leader lease in the lease bucket.
const leaseKey = "leader"

// ErrLeaseHeld is returned when another node holds the lease.
var ErrLeaseHeld = errors.New("replicate: the leader lease is held by another node")

// Lease is a leader lease: a key in a JetStream key/value bucket whose TTL
// is the lease TTL. It is taken with create-if-absent and renewed with an
// update conditional on the revision this holder last wrote, so two holders
// cannot both renew. The lease only keeps leaders from competing; the
// stream's expected-last-sequence fence is what guarantees a single writer.
type Lease struct {
	kv    jetstream.KeyValue
	node  string
	ttl   time.Duration
	rev   uint64
	valid atomic.Int64 // unix ns until which this holder may act as leader
	lost  chan struct{}
	once  sync.Once
	stop  chan struct{}
	done  chan struct{}
}

// safety is the part of the TTL a holder gives up to clock drift and
// scheduling: it stops acting at renewal start + TTL - safety.
func safety(ttl time.Duration) time.Duration { return ttl / 3 }

// acquireLease takes the lease for node if nobody holds it.
func acquireLease(ctx context.Context, kv jetstream.KeyValue, node string, ttl time.Duration) (*Lease, error) {
	start := time.Now()
	rev, err := kv.Create(ctx, leaseKey, []byte(node))
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, ErrLeaseHeld
		}
		return nil, fmt.Errorf("replicate: take lease: %w", err)
	}
	l := &Lease{kv: kv, node: node, ttl: ttl, rev: rev, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	l.valid.Store(start.Add(ttl - safety(ttl)).UnixNano())
	go l.keep()
	return l, nil
}

// keep renews the lease every TTL/4 until it fails or the lease is
// released.
func (l *Lease) keep() {
	defer close(l.done)
	t := time.NewTicker(l.ttl / 4)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), l.ttl/4)
		rev, err := l.kv.Update(ctx, leaseKey, []byte(l.node), l.rev)
		cancel()
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) || time.Now().UnixNano() >= l.valid.Load() {
				// Someone else holds it, or it has expired for us: lost.
				l.markLost()
				return
			}
			continue // a transient error: retry while the lease is valid
		}
		l.rev = rev
		l.valid.Store(start.Add(l.ttl - safety(l.ttl)).UnixNano())
	}
}

func (l *Lease) markLost() {
	l.valid.Store(0)
	l.once.Do(func() { close(l.lost) })
}

// Valid reports whether this holder may still act as leader.
func (l *Lease) Valid() bool { return time.Now().UnixNano() < l.valid.Load() }

// Lost is closed when the lease is lost.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Pause stops renewing without releasing (tests: a leader that stalls).
func (l *Lease) pause() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// release stops renewing and deletes the key if this holder still has it.
func (l *Lease) release(ctx context.Context) {
	l.pause()
	if l.Valid() {
		_ = l.kv.Delete(ctx, leaseKey, jetstream.LastRevision(l.rev))
	}
	l.markLost()
}
