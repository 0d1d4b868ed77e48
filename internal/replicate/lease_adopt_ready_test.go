package replicate

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// adoptKV stores the first renewal but reports it failed (its answer
// lost), so that the second, refused for its revision, is adopted; the
// third waits in Update until the test lets it go, after it has looked
// at the lease as the adoption left it.
type adoptKV struct {
	jetstream.KeyValue
	updates atomic.Int32
	third   chan struct{} // closed when the third renewal starts
	release chan struct{}
}

func (kv *adoptKV) Update(ctx context.Context, key string, value []byte, last uint64) (uint64, error) {
	switch kv.updates.Add(1) {
	case 1:
		if _, err := kv.KeyValue.Update(ctx, key, value, last); err != nil {
			return 0, err
		}
		return 0, context.DeadlineExceeded
	case 3:
		close(kv.third)
		<-kv.release
	}
	return kv.KeyValue.Update(ctx, key, value, last)
}

// TestLeaseAdoptedRenewalEndsFailing: a renewal whose answer was lost
// (timed out) marks the renewals failing, and /readyz answers 503 and
// Ready refuses commits while they are; when the next renewal finds that
// renewal stored (the key at a newer revision with this holding's token)
// and adopts it, the bucket has stored a write: the renewals are no
// longer failing, at once. They stayed failing until the renewal after,
// TTL/4 later, answering 503 meanwhile. Control: "renewals failing since
// … after the lost renewal was adopted".
func TestLeaseAdoptedRenewalEndsFailing(t *testing.T) {
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	// Renewals every 1.5 s; the second, which adopts, must come before the
	// lease lapses for us (4 s after the take): a margin for a loaded
	// machine, not a timing.
	cfg.LeaseTTL = 6 * time.Second
	res := testResources(t, c, cfg)
	kv := &adoptKV{KeyValue: res.lease, third: make(chan struct{}), release: make(chan struct{})}
	l, err := acquireLease(t.Context(), kv, "node-a", cfg.LeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	released := false
	defer func() {
		if !released {
			close(kv.release)
		}
		l.release(context.Background())
	}()
	// The first renewal (lost answer), the second (refused, adopted),
	// then the third starts: the adoption has run.
	testutil.Recv(t, kv.third, "the third renewal did not start")
	select {
	case <-l.Lost():
		t.Fatal("lease lost after a renewal whose answer was lost")
	default:
	}
	if since := l.renewalsFailing(); !since.IsZero() {
		t.Fatalf("renewals failing since %v after the lost renewal was adopted, want none (the bucket stored it)", since)
	}
	close(kv.release)
	released = true
}
