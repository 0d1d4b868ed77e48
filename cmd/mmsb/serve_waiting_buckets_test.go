package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb/internal/replicate"
)

// TestServeWaitingForBucketsSaysSo: 'serve --replicate --follow-only'
// whose stream exists but whose lease and checkpoint buckets do not (an
// operator deleted them) answers 503 naming the missing buckets, and does
// not say that no leader has created the stream: it did, and
// --replicate-bus is right. Before, the 503 said "no leader has created
// it; is --replicate-bus right?" whatever was missing.
func TestServeWaitingForBucketsSaysSo(t *testing.T) {
	c := startNATS(t, "bucketstest")
	nc, stopNC, _, err := replicate.Connect(c.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer stopNC()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A leader-capable node makes the stream and both buckets at NewNode
	// (it is never run); the buckets are then deleted.
	cfg := replicate.Config{Bus: "nobuckets", LeaseTTL: time.Second}
	if _, err := replicate.NewNode(ctx, replicate.NodeConfig{Config: cfg, ID: "maker", Dir: t.TempDir(), Conn: nc}); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteKeyValue(ctx, cfg.LeaseBucket()); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteObjectStore(ctx, cfg.CheckpointBucket()); err != nil {
		t.Fatal(err)
	}

	addr, log, _ := startFollowOnlyServe(t, c, "nobuckets")
	want := "waiting for lease bucket MMSB_LEASE_nobuckets, checkpoint bucket MMSB_CKPT_nobuckets (the stream MMSB_LOG_nobuckets exists"
	_, body := waitAnswer(t, addr, "/readyz", "503 saying it waits", log, func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, "waiting")
	})
	if !strings.Contains(body, want) || strings.Contains(body, "no leader has created") {
		t.Errorf("503 body %q: want it to say %q, not that no leader has created the stream", body, want)
	}
}
