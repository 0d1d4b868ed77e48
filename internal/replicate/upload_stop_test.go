package replicate

import (
	"context"
	"errors"
	"io"
	"math/rand"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// stopAfterFirstRead is an object store whose uploads close stop once
// the store has read the first chunk of what it uploads.
type stopAfterFirstRead struct {
	jetstream.ObjectStore
	stop chan struct{}
}

func (s *stopAfterFirstRead) Put(ctx context.Context, meta jetstream.ObjectMeta, r io.Reader) (*jetstream.ObjectInfo, error) {
	return s.ObjectStore.Put(ctx, meta, &closeAfterRead{r: r, stop: s.stop})
}

type closeAfterRead struct {
	r    io.Reader
	stop chan struct{}
	done bool
}

func (c *closeAfterRead) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if !c.done {
		c.done = true
		close(c.stop)
	}
	return n, err
}

// TestStoppedUploadLeavesNoChunks: a checkpoint upload stopped midway (a
// lease lost: archiveCheckpoint's stop) fails with ErrLeaseLost, stores no
// object and leaves no bytes in the bucket. Before, the upload's context
// was cancelled instead: the object store's Put cleans up with that same
// context, which fails, and the chunks sent stayed in the bucket, named by
// no object, removed by nothing.
func TestStoppedUploadLeavesNoChunks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	// Pages of random bytes: a checkpoint of several 128 KiB chunks.
	specs := make([]mmsb.PageSpec, 6)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 64 << 10}
	}
	pages, err := leader.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for _, p := range pages {
		b := make([]byte, 64<<10)
		rng.Read(b)
		if _, err := leader.Commit(ctx, []mmsb.Delta{mmsb.Write(p, 0, b)}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := res.ckpts.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store := &stopAfterFirstRead{ObjectStore: res.ckpts, stop: make(chan struct{})}
	res.ckpts = store
	_, err = archiveCheckpoint(ctx, res, leader, pub, store.stop, nil)
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("archiveCheckpoint = %v, want ErrLeaseLost", err)
	}
	if lsns, err := res.checkpointObjects(ctx); err != nil || len(lsns) != 0 {
		t.Fatalf("stored checkpoints after the stopped upload: %v (%v), want none", lsns, err)
	}
	after, err := res.ckpts.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() != before.Size() {
		t.Fatalf("the bucket holds %d bytes after the stopped upload, %d before: its chunks stayed", after.Size(), before.Size())
	}
}

// cancelAfterFirstRead is an object store whose uploads call cancel once
// the store has read the first chunk of what it uploads.
type cancelAfterFirstRead struct {
	jetstream.ObjectStore
	cancel context.CancelFunc
}

func (s *cancelAfterFirstRead) Put(ctx context.Context, meta jetstream.ObjectMeta, r io.Reader) (*jetstream.ObjectInfo, error) {
	return s.ObjectStore.Put(ctx, meta, &cancelAfterRead{r: r, cancel: s.cancel})
}

// cancelAfterRead calls cancel after its first read, before it returns:
// the next read sees the context ended.
type cancelAfterRead struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelAfterRead) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.cancel()
	return n, err
}

// TestUploadEndedByContextLeavesNoChunks: a checkpoint upload whose
// context ends midway (the node stopped: Run's context, or the upload's
// deadline, 10 × AckTimeout) fails with the context's error, stores no
// object and leaves no bytes in the bucket. Before, that context was the
// object store Put's own: its clean-up ran with it, ended, and failed,
// and the chunks sent stayed in the bucket, named by no object, removed
// by nothing (only a lost lease, archiveCheckpoint's stop, purged them).
func TestUploadEndedByContextLeavesNoChunks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	// Pages of random bytes: a checkpoint of several 128 KiB chunks.
	specs := make([]mmsb.PageSpec, 6)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 64 << 10}
	}
	pages, err := leader.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for _, p := range pages {
		b := make([]byte, 64<<10)
		rng.Read(b)
		if _, err := leader.Commit(ctx, []mmsb.Delta{mmsb.Write(p, 0, b)}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := res.ckpts.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	res.ckpts = &cancelAfterFirstRead{ObjectStore: res.ckpts, cancel: acancel}
	if _, err = archiveCheckpoint(actx, res, leader, pub, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("archiveCheckpoint = %v, want context.Canceled", err)
	}
	if lsns, err := res.checkpointObjects(ctx); err != nil || len(lsns) != 0 {
		t.Fatalf("stored checkpoints after the upload ended: %v (%v), want none", lsns, err)
	}
	after, err := res.ckpts.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() != before.Size() {
		t.Fatalf("the bucket holds %d bytes after the upload's context ended, %d before: its chunks stayed", after.Size(), before.Size())
	}
}
