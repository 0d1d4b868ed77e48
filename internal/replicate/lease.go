package replicate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
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
	token []byte // the key's value: the node ID and a random nonce, unique to this holding
	ttl   time.Duration
	rev   uint64
	valid atomic.Int64 // unix ns until which this holder may act as leader
	// failing is the unix ns at which the first of the renewals that
	// failed in a row since the last one stored started (0: the last
	// one was stored): the lease bucket, replicated as the stream is,
	// could not store a write (the NATS cluster without its quorum, the
	// connection down), and the leader's records cannot be stored either.
	failing atomic.Int64
	lost    chan struct{}
	once    sync.Once
	stop    chan struct{}
	done    chan struct{}
}

// safety is the part of the TTL a holder gives up to clock drift and
// scheduling: it stops acting at renewal start + TTL - safety.
func safety(ttl time.Duration) time.Duration { return ttl / 3 }

// leaseBucket is the lease bucket's handle with the connection it uses:
// a take of the lease that fails while the connection is down says that
// the server cannot be reached, and names it (ErrServerUnreachable),
// where it said only "context deadline exceeded" (nats.go buffers a
// request while it reconnects, and the take ends at its deadline).
type leaseBucket struct {
	jetstream.KeyValue
	nc *nats.Conn
}

// withConn returns kv (nil stays nil: a follow-only node's bucket not
// made yet) as a leaseBucket on nc.
func withConn(kv jetstream.KeyValue, nc *nats.Conn) jetstream.KeyValue {
	if kv == nil {
		return nil
	}
	return leaseBucket{KeyValue: kv, nc: nc}
}

// Create is jetstream.KeyValue's, its error naming an unreachable server.
func (b leaseBucket) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	rev, err := b.KeyValue.Create(ctx, key, value, opts...)
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		if u := unreachable(b.nc); u != nil {
			return rev, fmt.Errorf("%w: %w", u, err)
		}
	}
	return rev, err
}

// acquireLease takes the lease for node if nobody holds it.
func acquireLease(ctx context.Context, kv jetstream.KeyValue, node string, ttl time.Duration) (*Lease, error) {
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("replicate: take lease: %w", err)
	}
	token := []byte(node + " " + hex.EncodeToString(nonce[:]))
	start := time.Now()
	rev, err := kv.Create(ctx, leaseKey, token)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, ErrLeaseHeld
		}
		return nil, fmt.Errorf("replicate: take lease: %w", err)
	}
	l := &Lease{kv: kv, token: token, ttl: ttl, rev: rev, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
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
		rev, err := l.kv.Update(ctx, leaseKey, l.token, l.rev)
		cancel()
		if err != nil && errors.Is(err, jetstream.ErrKeyExists) {
			if l.adoptLostRenewal() {
				// Ours: renew from that revision at the next tick. The
				// bucket stored a renewal of this failing row, so it can
				// store writes: the row has ended, and /readyz and Ready
				// say so now, not at the next renewal, TTL/4 later
				// (TestLeaseAdoptedRenewalEndsFailing).
				l.failing.Store(0)
				continue
			}
			l.markLost() // someone else holds it
			return
		}
		if err != nil {
			l.failing.CompareAndSwap(0, start.UnixNano())
			if time.Now().UnixNano() >= l.valid.Load() {
				l.markLost() // expired for us
				return
			}
			continue // a transient error: retry while the lease is valid
		}
		l.rev = rev
		l.valid.Store(start.Add(l.ttl - safety(l.ttl)).UnixNano())
		l.failing.Store(0)
	}
}

// renewalsFailing returns when the renewals that have failed in a row
// began (the zero time while the last renewal was stored).
func (l *Lease) renewalsFailing() time.Time {
	if ns := l.failing.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// adoptLostRenewal handles a renewal refused for a revision mismatch: when
// the key still holds this holding's token at a newer revision, an earlier
// renewal was stored but its answer was lost (it timed out): the lease is
// still ours, at that revision. Validity is not extended: the stored
// renewal's start is not known, and the next renewal extends it. It reports
// false when another holder has the key (or it is gone) or it cannot tell
// and the lease has expired for us.
func (l *Lease) adoptLostRenewal() bool {
	ctx, cancel := context.WithTimeout(context.Background(), l.ttl/4)
	defer cancel()
	e, err := l.kv.Get(ctx, leaseKey)
	if err != nil {
		// Gone (expired, deleted): lost. Could not read: ours while valid.
		return !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyDeleted) && l.Valid()
	}
	if !bytes.Equal(e.Value(), l.token) || e.Revision() <= l.rev {
		return false
	}
	l.rev = e.Revision()
	return l.Valid()
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
