package replicate

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// lostAckKV stores the first renewal but reports it failed, as when the
// server's answer arrives after the renewal's deadline.
type lostAckKV struct {
	jetstream.KeyValue
	lost atomic.Bool
}

func (kv *lostAckKV) Update(ctx context.Context, key string, value []byte, last uint64) (uint64, error) {
	rev, err := kv.KeyValue.Update(ctx, key, value, last)
	if err == nil && kv.lost.CompareAndSwap(false, true) {
		return 0, context.DeadlineExceeded
	}
	return rev, err
}

// A renewal the server stored but whose answer was lost leaves the key at
// a revision the holder did not see. The holder still holds the lease: its
// next renewal must not take the revision mismatch for another holder and
// step down (no node could lead until the key expired).
func TestLeaseSurvivesLostRenewalAnswer(t *testing.T) {
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.LeaseTTL = 2 * time.Second
	res := testResources(t, c, cfg)
	kv := &lostAckKV{KeyValue: res.lease}
	l, err := acquireLease(t.Context(), kv, "node-a", cfg.LeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	defer l.release(context.Background())
	// Renewals every TTL/4: the lost answer, then several more.
	deadline := time.Now().Add(2 * cfg.LeaseTTL)
	for time.Now().Before(deadline) {
		select {
		case <-l.Lost():
			t.Fatalf("lease lost after a renewal whose answer was lost (answer lost: %v)", kv.lost.Load())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !kv.lost.Load() {
		t.Fatal("no renewal happened")
	}
	if !l.Valid() {
		t.Fatal("lease not valid after its renewals")
	}
	// Another node still cannot take it.
	if _, err := acquireLease(t.Context(), res.lease, "node-b", cfg.LeaseTTL); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("second holder: %v, want ErrLeaseHeld", err)
	}
}
