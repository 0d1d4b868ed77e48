package replicate

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// flakyCheckpoints answers the next notFound checkpoint bucket lookups
// (ObjectStore) "bucket not found" while the bucket is there, as a
// server restarting or a JetStream cluster electing a leader may, and
// refuses the next failPuts uploads of the object stores it hands out,
// keeping the LSN of the last one refused.
type flakyCheckpoints struct {
	jetstream.JetStream
	notFound, failPuts atomic.Int32
	refusedAt          atomic.Uint64
}

func (j *flakyCheckpoints) ObjectStore(ctx context.Context, bucket string) (jetstream.ObjectStore, error) {
	if j.notFound.Add(-1) >= 0 {
		return nil, jetstream.ErrBucketNotFound
	}
	obs, err := j.JetStream.ObjectStore(ctx, bucket)
	if err != nil {
		return nil, err
	}
	return &flakyObjects{ObjectStore: obs, j: j}, nil
}

func (j *flakyCheckpoints) CreateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	obs, err := j.JetStream.CreateObjectStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &flakyObjects{ObjectStore: obs, j: j}, nil
}

type flakyObjects struct {
	jetstream.ObjectStore
	j *flakyCheckpoints
}

func (o *flakyObjects) Put(ctx context.Context, meta jetstream.ObjectMeta, r io.Reader) (*jetstream.ObjectInfo, error) {
	if o.j.failPuts.Add(-1) >= 0 {
		lsn, _ := parseCkptObjectName(meta.Name)
		o.j.refusedAt.Store(uint64(lsn))
		return nil, errors.New("test: upload refused")
	}
	return o.ObjectStore.Put(ctx, meta, r)
}

// storedAtLeast waits up to 30 s for n's checkpoint bucket to hold a
// checkpoint at lsn or later, and reports whether it did.
func storedAtLeast(t *testing.T, n *testNode, lsn mmsb.LSN) bool {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		stored, err := n.res.storedCheckpoints(ctx)
		if err == nil && len(stored) > 0 && stored[len(stored)-1].lsn >= lsn {
			return true
		}
	}
	return false
}

// TestLeaderRetriesArchiveAfterSpuriousBucketNotFound: a leader's upload
// fails once, and the lookup of the checkpoint bucket that follows is
// answered "bucket not found" once while the bucket is there. The
// leader tries the archive again at its next tick and stores the
// checkpoint, with nothing more committed, in the same term, and no
// line says the bucket was deleted. Until 2026-12-07 one such answer was
// taken as the bucket deleted: that upload was skipped until
// CheckpointEvery more records were published.
func TestLeaderRetriesArchiveAfterSpuriousBucketNotFound(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	flaky := &flakyCheckpoints{}
	logs := &logLines{t: t}
	a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: filepath.Join(t.TempDir(), "a"), CheckpointEvery: 3, Logf: logs.logf,
		wrapJetStream: func(js jetstream.JetStream) jetstream.JetStream { flaky.JetStream = js; return flaky }})
	_, lb := waitLeader(t, a)
	pages := createPages(t, lb, 1)
	if _, err := load(ctx, lb, pages, 1, 3, 1); err != nil {
		t.Fatal(err)
	}
	if !storedAtLeast(t, a, 1) {
		t.Fatal("no checkpoint stored within 30 s")
	}
	term, _ := a.LastLead()
	flaky.notFound.Store(1)
	flaky.failPuts.Store(1)
	if _, err := load(ctx, lb, pages, 1, 3, 1); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); flaky.refusedAt.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	refused := mmsb.LSN(flaky.refusedAt.Load())
	if refused == 0 {
		t.Fatal("no upload was tried within 30 s")
	}
	if !storedAtLeast(t, a, refused) {
		t.Fatalf("no checkpoint at LSN %d or later stored within 30 s after the upload at LSN %d failed and one lookup said the bucket was not found (it is there)", refused, refused)
	}
	if got, ended := a.LastLead(); a.Leader() != lb || got != term {
		t.Fatalf("node a leads no more (term %d, was %d): %v", got, term, ended)
	}
	if n := logs.count("was deleted"); n != 0 {
		t.Fatalf("%d lines say the checkpoint bucket was deleted: one \"bucket not found\" is no proof", n)
	}
}

// TestLeaderRemakesDeletedCheckpointBucket: the checkpoint bucket is
// deleted under a leader that archives every 3 records. Its next archive
// fails; once the bucket is found missing after 3 failed archives in a
// row, the leader makes it again, stores a checkpoint at the LSN it
// reached, and trims the stream below it, leading on in the same term
// with a line saying so. Until 2026-12-07 it led on without storing
// checkpoints until a node was started or an operator made the bucket:
// nothing trimmed the stream, which grew with every record until
// JetStream's storage refused one, failing the leader's bus (and every
// next leader's).
func TestLeaderRemakesDeletedCheckpointBucket(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	logs := &logLines{t: t}
	a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: filepath.Join(t.TempDir(), "a"), CheckpointEvery: 3, Logf: logs.logf})
	_, lb := waitLeader(t, a)
	pages := createPages(t, lb, 1)
	if _, err := load(ctx, lb, pages, 1, 3, 1); err != nil {
		t.Fatal(err)
	}
	if !storedAtLeast(t, a, 1) {
		t.Fatal("no checkpoint stored within 30 s")
	}
	term, _ := a.LastLead()
	if err := a.res.js.DeleteObjectStore(ctx, a.res.cfg.CheckpointBucket()); err != nil {
		t.Fatal(err)
	}
	info, err := a.res.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	firstBefore := info.State.FirstSeq
	if _, err := load(ctx, lb, pages, 1, 3, 1); err != nil {
		t.Fatalf("commit after the bucket was deleted: %v", err)
	}
	want := lb.LastLSN()
	if !storedAtLeast(t, a, want) {
		t.Fatalf("no checkpoint at LSN %d stored within 30 s of the checkpoint bucket's deletion (the bucket not made again)", want)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		info, err := a.res.stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.FirstSeq > firstBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream still starts at sequence %d, as before the bucket's deletion: not trimmed", info.State.FirstSeq)
		}
	}
	if got, ended := a.LastLead(); a.Leader() != lb || got != term {
		t.Fatalf("node a leads no more (term %d, was %d): %v", got, term, ended)
	}
	if logs.count("checkpoint bucket MMSB_CKPT_t was deleted") == 0 || logs.count("made it again") == 0 {
		t.Fatal("no line says the checkpoint bucket was deleted and made again")
	}
}
