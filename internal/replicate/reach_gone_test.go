package replicate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// goneHeadStream is a stream whose info lists records 5..7 and whose
// every record is gone when read (trimmed after each info, again and
// again), counting the reads.
type goneHeadStream struct {
	jetstream.Stream // the methods reachesStream does not call: nil
	reads            int
}

func (s *goneHeadStream) Info(context.Context, ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error) {
	return &jetstream.StreamInfo{State: jetstream.StreamState{Msgs: 3, FirstSeq: 5, LastSeq: 7}}, nil
}

func (s *goneHeadStream) GetMsg(context.Context, uint64, ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	s.reads++
	return nil, jetstream.ErrMsgNotFound
}

// TestReachesStreamFirstRecordGoneError: when the stream's first record
// is gone at every read, reachesStream gives up after 8 reads with
// ErrStreamUnavailable (the node retries it) wrapping
// jetstream.ErrMsgNotFound, naming the record it looked for (the stream's
// first, by its sequence) and how often it was gone. Before, it returned
// the last read's error as it was, which named a sequence only, not what
// it was or that it had been looked for 8 times.
func TestReachesStreamFirstRecordGoneError(t *testing.T) {
	s := &goneHeadStream{}
	r := &resources{cfg: Config{Bus: "b", AckTimeout: 5 * time.Second}, ckpts: &partialStore{}, stream: s}
	lsns, _, err := r.reachesStream(context.Background())
	if err == nil {
		t.Fatalf("reachesStream = %v, nil; want an error", lsns)
	}
	if !errors.Is(err, ErrStreamUnavailable) || !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("reachesStream: %v; want ErrStreamUnavailable wrapping jetstream.ErrMsgNotFound", err)
	}
	if want := "the stream's first record, sequence 5 by its info, was gone at each of 8 reads"; !strings.Contains(err.Error(), want) {
		t.Fatalf("reachesStream: %q; want it to say %q", err, want)
	}
	if s.reads != 8 {
		t.Fatalf("%d reads of the first record, want 8", s.reads)
	}
}
