package replicate

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// flakyGetStream fails its first GetMsg as a request that timed out: the
// stream is briefly unreachable, as around the disruption that made a
// publish lose its acknowledgement.
type flakyGetStream struct {
	jetstream.Stream
	failed atomic.Bool
}

func (s *flakyGetStream) GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	if s.failed.CompareAndSwap(false, true) {
		return nil, context.DeadlineExceeded
	}
	return s.Stream.GetMsg(ctx, seq, opts...)
}

// A republish that arrives after its record is already in the stream is
// refused with "wrong last sequence"; when the stream cannot be read at
// that moment, the publisher cannot tell its own record from another
// leader's and must ask again, not report a fence.
func TestLateRepublishUnreadableIsNotFenced(t *testing.T) {
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

	flaky := *res
	fs := &flakyGetStream{Stream: res.stream}
	flaky.stream = fs
	m := &Metrics{}
	pub := newPublisher(&flaky, 1, 0, 0, nil, m)
	defer pub.close()
	if err := pub.Replicate(&rec); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitStored(ctx, rec.LastLSN); err != nil {
		t.Fatalf("record the stream already holds, read failed once (%v): %v, want stored", fs.failed.Load(), err)
	}
	if m.FencedPublishes.Load() != 0 {
		t.Fatalf("fenced publishes %d, want 0", m.FencedPublishes.Load())
	}
}

// A stream that stays behind the publisher (it refuses the expected
// sequence, holds no record there and no newer term) until the republish
// deadline fails the publisher, but no other leader published: that is a
// missing acknowledgement, not a fence.
func TestRepublishBehindStreamIsNotFenced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.AckTimeout = 500 * time.Millisecond
	res := testResources(t, c, cfg)

	// The publisher believes the stream ends at sequence 5; it is empty.
	m := &Metrics{}
	pub := newPublisher(res, 1, 5, 0, nil, m)
	// Two records in flight: the second is refused too, because the first
	// is missing, which is no other leader either.
	for lsn := mmsb.LSN(1); lsn <= 2; lsn++ {
		rec := mmsb.ReplicatedRecord{FirstLSN: lsn, LastLSN: lsn, Payload: []byte("x"), StateHash: uint64(lsn)}
		if err := pub.Replicate(&rec); err != nil {
			t.Fatal(err)
		}
	}
	err := pub.WaitStored(ctx, 2)
	if err == nil {
		t.Fatal("a record the stream never stored was acknowledged")
	}
	pub.close() // waits for the second record's answer
	if errors.Is(err, ErrFenced) || m.FencedPublishes.Load() != 0 {
		t.Fatalf("publish to a stream behind the publisher: %v, fenced publishes %d; want no fence", err, m.FencedPublishes.Load())
	}
}
