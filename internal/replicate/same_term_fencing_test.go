package replicate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// Two leaders can lead the same term: a node takes the lease, catches up
// and leads term T = last term in the stream + 1, then stalls before
// publishing anything; its lease expires and another node, reading the
// same stream, also leads term T. Their first records start at the same
// LSN, so they carry the same Nats-Msg-Id, and a replicated stream
// deduplicates before it checks the expected last sequence. The stale
// leader's record must be refused as fenced, not acknowledged as a
// "duplicate" of the other leader's different record: that would
// acknowledge a commit the stream does not hold.
func TestSameTermLeadersAreFenced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startTestCluster(t, 3)
	res := testResources(t, c, testConfig(3))

	pubB := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	busB := openLeader(t, t.TempDir(), pubB)
	defer func() { _ = busB.Close(); pubB.close() }()
	if _, err := busB.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}}); err != nil {
		t.Fatalf("new leader: %v", err)
	}

	// The stalled leader wakes up and commits a different first record at
	// the same LSN, in the same term.
	mA := &Metrics{}
	pubA := newPublisher(res, 1, 0, 0, nil, mA)
	busA := openLeader(t, t.TempDir(), pubA)
	defer func() { _ = busA.Close(); pubA.close() }()
	_, err := busA.CreatePages(ctx, []mmsb.PageSpec{{Size: 128}})
	if !errors.Is(err, mmsb.ErrReplication) || !errors.Is(err, ErrFenced) {
		t.Fatalf("stale same-term leader's commit: %v, want ErrReplication wrapping ErrFenced", err)
	}
	if mA.FencedPublishes.Load() != 1 {
		t.Fatalf("fenced publishes %d, want 1", mA.FencedPublishes.Load())
	}
	info, err := res.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d records, want 1", info.State.Msgs)
	}
}

// A publish the stream stored but whose acknowledgement was lost (the
// connection dropped) is republished with the same message ID and
// expected sequence; a single server then answers "wrong last sequence"
// (it checks the sequence before it deduplicates). The stream holds this
// very record at the expected sequence: the publish is stored, not fenced.
func TestRepublishAcceptsRecordAlreadyStored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))

	rec := mmsb.ReplicatedRecord{FirstLSN: 1, LastLSN: 3, Payload: []byte("payload of LSN 1..3"), StateHash: 0x1234}
	stored := &nats.Msg{Subject: res.cfg.Subject(), Header: nats.Header{}, Data: rec.Payload}
	recordHeaders(stored.Header, 1, &rec)
	if _, err := res.js.PublishMsg(ctx, stored, jetstream.WithExpectLastSequence(0)); err != nil {
		t.Fatal(err)
	}

	m := &Metrics{}
	pub := newPublisher(res, 1, 0, 0, nil, m)
	defer pub.close()
	if err := pub.Replicate(&rec); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitStored(ctx, rec.LastLSN); err != nil {
		t.Fatalf("record the stream already holds: %v, want stored", err)
	}
	if m.FencedPublishes.Load() != 0 {
		t.Fatalf("fenced publishes %d, want 0", m.FencedPublishes.Load())
	}
}
