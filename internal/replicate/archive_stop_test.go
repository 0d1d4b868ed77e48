package replicate

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// stalledReads is a stream whose GetMsg, once armed, hangs until its
// context ends (a stream that does not answer: its leader lost in a
// cluster, while the object store and the lease bucket still do),
// telling reading when one starts.
type stalledReads struct {
	jetstream.Stream
	armed   atomic.Bool
	reading chan struct{}
}

func (s *stalledReads) GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	if !s.armed.Load() {
		return s.Stream.GetMsg(ctx, seq, opts...)
	}
	select {
	case s.reading <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// armAfterPut is an object store that arms reads once an upload is
// stored.
type armAfterPut struct {
	jetstream.ObjectStore
	reads *stalledReads
}

func (s *armAfterPut) Put(ctx context.Context, meta jetstream.ObjectMeta, r io.Reader) (*jetstream.ObjectInfo, error) {
	info, err := s.ObjectStore.Put(ctx, meta, r)
	s.reads.armed.Store(true)
	return info, err
}

// TestArchiveStopsLookupsOnLeaseLost: the stream's reads that an archive
// makes around its upload (the lookup of the record ending at the
// checkpoint's LSN, for the object's hash key, and the trim's) end when
// the lease is lost (stop closed), and the archive returns ErrLeaseLost
// then, not once each read's AckTimeout (30 s here) passes on a stream
// that does not answer. Before, both read with the archive's context,
// which stop does not end: the role, Leader() returning a bus whose
// commits all failed, lasted as long as the reads.
func TestArchiveStopsLookupsOnLeaseLost(t *testing.T) {
	for _, tc := range []struct {
		name       string
		duringTrim bool
	}{
		{"hash lookup", false},
		{"trim", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := startTestCluster(t, 1)
			cfg := testConfig(1)
			cfg.AckTimeout = 30 * time.Second
			res := testResources(t, c, cfg)
			pub := newPublisher(res, 1, 0, 0, nil, &Metrics{}) // reads the real stream
			leader := openLeader(t, t.TempDir(), pub)
			defer func() { _ = leader.Close(); pub.close() }()
			pages := createPages(t, leader, 2)
			if _, err := load(ctx, leader, pages, 1, 3, 1); err != nil {
				t.Fatal(err)
			}
			reads := &stalledReads{Stream: res.stream, reading: make(chan struct{}, 1)}
			res.stream = reads
			if tc.duringTrim {
				res.ckpts = &armAfterPut{ObjectStore: res.ckpts, reads: reads}
			} else {
				reads.armed.Store(true)
			}

			stop := make(chan struct{})
			type result struct {
				lsn mmsb.LSN
				err error
			}
			done := make(chan result, 1)
			go func() {
				lsn, err := archiveCheckpoint(ctx, res, leader, pub, stop, nil)
				done <- result{lsn, err}
			}()
			select {
			case <-reads.reading:
			case r := <-done:
				t.Fatalf("the archive ended (%d, %v) before it read the stream", r.lsn, r.err)
			case <-time.After(30 * time.Second):
				t.Fatal("the archive did not read the stream within 30 s")
			}
			close(stop) // the lease is lost
			select {
			case r := <-done:
				if !errors.Is(r.err, ErrLeaseLost) {
					t.Fatalf("archive = %d, %v; want ErrLeaseLost", r.lsn, r.err)
				}
			case <-time.After(10 * time.Second):
				cancel() // lets it end
				<-done
				t.Fatalf("the archive still ran 10 s after the lease was lost, its read of the stream waiting out the AckTimeout (%v)", cfg.AckTimeout)
			}
		})
	}
}
