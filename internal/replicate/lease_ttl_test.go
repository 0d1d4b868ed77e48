package replicate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestNodesMustAgreeOnLeaseTTL: a node whose LeaseTTL differs from the
// lease bucket's TTL (made by the first node of the bus) is refused with
// ErrConfig, and the bucket keeps its TTL. Each node updated the bucket to
// its own TTL, so the last to start set it: a leader that started with 10
// s believed it led for 6.7 s after each renewal while the key lived 1 s,
// and the other nodes took the lease and fenced it, over and over. The
// control: a node with the same TTL is accepted; a follow-only node (it
// never leads) takes the bucket's TTL.
func TestNodesMustAgreeOnLeaseTTL(t *testing.T) {
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.LeaseTTL = 3 * time.Second
	testResources(t, c, cfg) // the first node makes the bucket
	js, err := jetstream.New(connect(t, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.LeaseTTL = time.Second
	if other, err = other.withDefaults(); err != nil {
		t.Fatal(err)
	}
	if _, err := ensure(context.Background(), js, other, false); !errors.Is(err, ErrConfig) {
		t.Fatalf("a node with lease TTL 1s on a bucket of 3s: %v, want ErrConfig", err)
	}
	kv, err := js.KeyValue(context.Background(), cfg.LeaseBucket())
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != 3*time.Second {
		t.Fatalf("the bucket's TTL is %v after the refused node, want 3s", st.TTL())
	}
	testResources(t, c, cfg) // control: the same TTL is accepted
	// A node that never leads takes the bucket's TTL instead.
	res, err := ensure(context.Background(), js, other, true)
	if err != nil {
		t.Fatalf("a follow-only node with lease TTL 1s on a bucket of 3s: %v", err)
	}
	if res.cfg.LeaseTTL != 3*time.Second {
		t.Fatalf("the follow-only node's lease TTL is %v, want the bucket's 3s", res.cfg.LeaseTTL)
	}
}
