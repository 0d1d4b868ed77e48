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

// failingGetStream fails its first `fail` GetMsg calls with err (a stream
// briefly unreachable, or a read that cannot succeed) and counts every call.
type failingGetStream struct {
	jetstream.Stream
	fail  int64
	err   error
	calls atomic.Int64
}

func (s *failingGetStream) GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	if s.calls.Add(1) <= s.fail {
		return nil, s.err
	}
	return s.Stream.GetMsg(ctx, seq, opts...)
}

// A duplicate acknowledgement is checked by reading the stored record
// back (checkDuplicate). A read that fails transiently is tried again, a
// bounded number of times: once it succeeds the record counts as stored,
// not as a failure that makes the leader step down. The controls: reads
// that keep failing fail the check after checkDuplicateAttempts reads, and
// another record at the sequence is the fence at once, unretried.
func TestCheckDuplicateRetriesFailedRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.AckTimeout = 2 * time.Second
	res := testResources(t, c, cfg)

	rec := mmsb.ReplicatedRecord{FirstLSN: 1, LastLSN: 3, Payload: []byte("payload of LSN 1..3"), StateHash: 0x1234}
	stored := &nats.Msg{Subject: res.cfg.Subject(), Header: nats.Header{}, Data: rec.Payload}
	recordHeaders(stored.Header, 1, &rec)
	if _, err := res.js.PublishMsg(ctx, stored, jetstream.WithExpectLastSequence(0)); err != nil {
		t.Fatal(err)
	}
	in := inflight{msg: stored, seq: 1, last: rec.LastLSN}
	check := func(fail int64, err error, in inflight) (int64, *Metrics, error) {
		t.Helper()
		fs := &failingGetStream{Stream: res.stream, fail: fail, err: err}
		m := &Metrics{}
		p := &Publisher{stream: fs, subject: res.cfg.Subject(), ackTimeout: res.cfg.AckTimeout, metrics: m}
		err = p.checkDuplicate(in)
		return fs.calls.Load(), m, err
	}

	// Transient: two timeouts, then the read succeeds.
	if calls, _, err := check(2, context.DeadlineExceeded, in); err != nil || calls != 3 {
		t.Fatalf("duplicate check whose first 2 reads timed out: %v after %d reads, want verified after 3", err, calls)
	}
	// Control: the reads keep failing; the check gives up after its bound.
	calls, _, err := check(1000, context.DeadlineExceeded, in)
	if !errors.Is(err, context.DeadlineExceeded) || calls != checkDuplicateAttempts {
		t.Fatalf("duplicate check whose reads all fail: %v after %d reads, want DeadlineExceeded after %d", err, calls, checkDuplicateAttempts)
	}
	// Control: the sequence holds another record with the same message
	// ID (another same-term leader's): fenced, with one read.
	other := inflight{msg: &nats.Msg{Subject: stored.Subject, Header: cloneHeader(stored.Header), Data: []byte("another leader's payload")}, seq: 1, last: rec.LastLSN}
	calls, m, err := check(0, nil, other)
	if !errors.Is(err, ErrFenced) || calls != 1 || m.FencedPublishes.Load() != 1 {
		t.Fatalf("duplicate of another record: %v after %d reads (fenced %d), want ErrFenced after 1", err, calls, m.FencedPublishes.Load())
	}
}
