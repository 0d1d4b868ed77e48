package replicate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestFollowOnlyRefusesLeaseBucketTTLOutOfBounds: a follow-only node
// takes the lease bucket's TTL, but not one no node could lead with: a
// bucket made outside MMSB with no TTL (0), or with one over MaxLeaseTTL,
// is ErrConfig naming the bucket. Before, the node took TTL 0, and Run
// panicked (non-positive interval for NewTicker, the LeaseTTL/4 tick).
func TestFollowOnlyRefusesLeaseBucketTTLOutOfBounds(t *testing.T) {
	c := startTestCluster(t, 1)
	nc := connect(t, c.URL())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, ttl := range []time.Duration{0, 2 * time.Hour} {
		cfg := testConfig(1)
		cfg.Bus = []string{"nottl", "longttl"}[i]
		if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: cfg.LeaseBucket(), TTL: ttl, History: 1}); err != nil {
			t.Fatal(err)
		}
		n, err := NewNode(ctx, NodeConfig{Config: cfg, ID: "f", Dir: t.TempDir(), Conn: nc, FollowOnly: true})
		if err == nil {
			// What the node did with it: run it briefly.
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			rerr := n.Run(rctx)
			rcancel()
			t.Fatalf("bucket TTL %v: NewNode took it (Run: %v), want ErrConfig", ttl, rerr)
		}
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), cfg.LeaseBucket()) {
			t.Errorf("bucket TTL %v: NewNode = %v, want ErrConfig naming %s", ttl, err, cfg.LeaseBucket())
		}
	}
}
