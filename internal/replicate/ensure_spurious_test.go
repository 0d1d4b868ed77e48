package replicate

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// notFoundOnce answers "stream not found" to the next notFound stream
// lookups (Stream) of a stream that is there, as a server restarting or a
// JetStream cluster electing a leader may.
type notFoundOnce struct {
	jetstream.JetStream
	notFound atomic.Int32
}

func (j *notFoundOnce) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if j.notFound.Add(-1) >= 0 {
		return nil, jetstream.ErrStreamNotFound
	}
	return j.JetStream.Stream(ctx, name)
}

// TestEnsureRidesOutSpuriousStreamNotFound: a leader-capable node whose
// first look at an existing stream is answered "stream not found" does
// not set its own configuration over the stream: the stream keeps its
// larger message limit (the replica count, kept the same way, needs a
// cluster of several servers), and the node does not take the stream for
// one it made. Before, one such answer made the node set the whole
// configuration (CreateOrUpdateStream): the message limit fell to the
// node's own, below the leader's records, and NewNode said it had made
// the stream.
func TestEnsureRidesOutSpuriousStreamNotFound(t *testing.T) {
	c := startTestCluster(t, 1)
	big := testConfig(1)
	big.MaxRecordBytes = 4 << 20
	testResources(t, c, big) // the stream, made with the larger limit
	small := testConfig(1)
	small.MaxRecordBytes = 1 << 20
	small, err := small.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(connect(t, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	flaky := &notFoundOnce{JetStream: js}
	flaky.notFound.Store(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := ensure(ctx, flaky, small, false)
	if err != nil {
		t.Fatal(err)
	}
	info, err := res.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Config.MaxMsgSize, int32(big.MaxRecordBytes); got < want || res.streamMade {
		t.Fatalf("after a spurious \"stream not found\" the stream's MaxMsgSize is %d (want at least %d), made by the node: %v (want false)", got, want, res.streamMade)
	}
}

// bucketNotFoundOnce answers "bucket not found" to the next notFound
// key-value bucket lookups (KeyValue) of a bucket that is there.
type bucketNotFoundOnce struct {
	jetstream.JetStream
	notFound atomic.Int32
}

func (j *bucketNotFoundOnce) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	if j.notFound.Add(-1) >= 0 {
		return nil, jetstream.ErrBucketNotFound
	}
	return j.JetStream.KeyValue(ctx, bucket)
}

// TestEnsureRidesOutSpuriousLeaseBucketNotFound: a leader-capable node
// with another lease TTL than the bucket's, whose first look at the
// bucket is answered "bucket not found", is refused (ErrConfig), as
// without that answer, and the bucket keeps its TTL. Before, the node set
// its own TTL over the bucket's (CreateOrUpdateKeyValue): a leader that
// started with the longer TTL then believed it led after its key expired.
func TestEnsureRidesOutSpuriousLeaseBucketNotFound(t *testing.T) {
	c := startTestCluster(t, 1)
	first := testConfig(1)
	testResources(t, c, first) // the bucket, made with first's TTL
	other := testConfig(1)
	other.LeaseTTL = first.LeaseTTL + time.Second
	other, err := other.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(connect(t, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	flaky := &bucketNotFoundOnce{JetStream: js}
	flaky.notFound.Store(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = ensure(ctx, flaky, other, false)
	kv, kerr := js.KeyValue(ctx, first.LeaseBucket())
	if kerr != nil {
		t.Fatal(kerr)
	}
	st, kerr := kv.Status(ctx)
	if kerr != nil {
		t.Fatal(kerr)
	}
	if !errors.Is(err, ErrConfig) || st.TTL() != first.LeaseTTL {
		t.Fatalf("after a spurious \"bucket not found\" ensure with lease TTL %v returned %v (want ErrConfig), and the bucket's TTL is %v (want %v)", other.LeaseTTL, err, st.TTL(), first.LeaseTTL)
	}
}

// TestEnsureSpuriousNotFoundOfSameStreamIsNotMade: a leader-capable node
// with the configuration the stream was made with (as every node of a
// bus has) gets "stream not found" for a stream that holds records. The
// server answers its create as it answers one that makes the stream, but
// the node does not take the stream for one it made (NewNode would say
// so, and advise deleting the checkpoint bucket for a fresh history:
// logBucketBeforeStream). Before, it did ("made by the node: true").
func TestEnsureSpuriousNotFoundOfSameStreamIsNotMade(t *testing.T) {
	c := startTestCluster(t, 1)
	cfg, err := testConfig(1).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	testResources(t, c, cfg) // the stream, made with cfg
	js, err := jetstream.New(connect(t, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, cfg.Subject(), []byte("a record")); err != nil {
		t.Fatal(err)
	}
	flaky := &notFoundOnce{JetStream: js}
	flaky.notFound.Store(1)
	res, err := ensure(ctx, flaky, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if flaky.notFound.Load() > 0 {
		t.Fatal("the spurious answer was not given: not the case under test")
	}
	if res.streamMade {
		t.Fatal("after a spurious \"stream not found\" for the stream holding a record, made by the node: true (want false)")
	}
}

// objectStoreNotFoundOnce answers "bucket not found" to the next notFound
// object store lookups (ObjectStore) of a bucket that is there.
type objectStoreNotFoundOnce struct {
	jetstream.JetStream
	notFound atomic.Int32
}

func (j *objectStoreNotFoundOnce) ObjectStore(ctx context.Context, bucket string) (jetstream.ObjectStore, error) {
	if j.notFound.Add(-1) >= 0 {
		return nil, jetstream.ErrBucketNotFound
	}
	return j.JetStream.ObjectStore(ctx, bucket)
}

// TestEnsureKeepsCheckpointBucketConfig: an operator gave the checkpoint
// bucket a size limit and a description of their own; a leader-capable
// node's start keeps them, both after an ordinary look at the bucket and
// after a spurious "bucket not found" (the create that follows is
// refused for the bucket that exists, and the node looks again). Before,
// every such start set the node's own configuration over the bucket
// (CreateOrUpdateObjectStore): the limit and the description were gone.
func TestEnsureKeepsCheckpointBucketConfig(t *testing.T) {
	c := startTestCluster(t, 1)
	cfg, err := testConfig(1).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	testResources(t, c, cfg) // the bucket, made by a node
	js, err := jetstream.New(connect(t, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const maxBytes, desc = 64 << 20, "checkpoints of bus t (the operator's)"
	if _, err := js.UpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: cfg.CheckpointBucket(), Storage: jetstream.FileStorage, Replicas: 1, MaxBytes: maxBytes, Description: desc,
	}); err != nil {
		t.Fatal(err)
	}
	for _, spurious := range []int32{0, 1} {
		flaky := &objectStoreNotFoundOnce{JetStream: js}
		flaky.notFound.Store(spurious)
		if _, err := ensure(ctx, flaky, cfg, false); err != nil {
			t.Fatalf("ensure after %d spurious \"bucket not found\": %v", spurious, err)
		}
		if flaky.notFound.Load() > 0 {
			t.Fatal("the spurious answer was not given: not the case under test")
		}
		obs, err := js.ObjectStore(ctx, cfg.CheckpointBucket())
		if err != nil {
			t.Fatal(err)
		}
		st, err := obs.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := js.Stream(ctx, "OBJ_"+cfg.CheckpointBucket())
		if err != nil {
			t.Fatal(err)
		}
		if got := bs.CachedInfo().Config.MaxBytes; got != maxBytes || st.Description() != desc {
			t.Fatalf("after a node's start (%d spurious \"bucket not found\"), the checkpoint bucket's MaxBytes is %d (want %d) and its description %q (want %q)",
				spurious, got, maxBytes, st.Description(), desc)
		}
	}
}

// TestEnsureKeepsLeaseBucketConfig: an operator gave the lease bucket a
// size limit and a description of their own; a leader-capable node's
// start keeps them, both after an ordinary look at the bucket and after a
// spurious "bucket not found". Before, every such start set the node's
// own configuration over the bucket (CreateOrUpdateKeyValue): the limit
// and the description were gone (and a replica count set above the
// node's was lowered, which needs several servers to show).
func TestEnsureKeepsLeaseBucketConfig(t *testing.T) {
	c := startTestCluster(t, 1)
	cfg, err := testConfig(1).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	testResources(t, c, cfg) // the bucket, made by a node
	js, err := jetstream.New(connect(t, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const maxBytes, desc = 1 << 20, "leases of bus t (the operator's)"
	kc := leaseBucketConfig(cfg)
	kc.MaxBytes, kc.Description = maxBytes, desc
	if _, err := js.UpdateKeyValue(ctx, kc); err != nil {
		t.Fatal(err)
	}
	for _, spurious := range []int32{0, 1} {
		flaky := &bucketNotFoundOnce{JetStream: js}
		flaky.notFound.Store(spurious)
		res, err := ensure(ctx, flaky, cfg, false)
		if err != nil {
			t.Fatalf("ensure after %d spurious \"bucket not found\": %v", spurious, err)
		}
		if flaky.notFound.Load() > 0 {
			t.Fatal("the spurious answer was not given: not the case under test")
		}
		if res.lease == nil {
			t.Fatal("ensure returned no lease bucket")
		}
		bs, err := js.Stream(ctx, "KV_"+cfg.LeaseBucket())
		if err != nil {
			t.Fatal(err)
		}
		if got := bs.CachedInfo().Config; got.MaxBytes != maxBytes || got.Description != desc {
			t.Fatalf("after a node's start (%d spurious \"bucket not found\"), the lease bucket's MaxBytes is %d (want %d) and its description %q (want %q)",
				spurious, got.MaxBytes, maxBytes, got.Description, desc)
		}
	}
}
