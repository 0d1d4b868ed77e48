package replicate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestListCheckpointsOfDeletedBucketSaysSo: once the checkpoint bucket is
// deleted (an operator, or another program), the bootstrap of a follower
// that needs a stored checkpoint fails with an error that says the
// bucket does not exist and wraps jetstream.ErrBucketNotFound. Until
// 2026-12-07 it said only "replicate: list checkpoints: nats: stream
// not found", which reads as the log's stream gone.
func TestListCheckpointsOfDeletedBucketSaysSo(t *testing.T) {
	c := startTestCluster(t, 1)
	r := testResources(t, c, testConfig(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if lsns, err := r.checkpointObjects(ctx); err != nil || len(lsns) != 0 {
		t.Fatalf("stored checkpoints of a new bucket: %v (%v), want none", lsns, err)
	}
	if r.checkpointBucketGone(ctx) {
		t.Fatal("the bucket is there, and checkpointBucketGone says it is gone")
	}
	if err := r.js.DeleteObjectStore(ctx, r.cfg.CheckpointBucket()); err != nil {
		t.Fatal(err)
	}
	_, err := bootstrap(ctx, r, t.TempDir())
	if !errors.Is(err, jetstream.ErrBucketNotFound) || !strings.Contains(err.Error(), "checkpoint bucket MMSB_CKPT_t does not exist") {
		t.Fatalf("bootstrap with the checkpoint bucket deleted: %v, want it to say the bucket MMSB_CKPT_t does not exist (jetstream.ErrBucketNotFound)", err)
	}
}
