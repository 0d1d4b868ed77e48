package replicate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// Follower errors.
var (
	// ErrNeedBootstrap: the stream no longer holds the records after the
	// follower's LSN (trimmed below a newer checkpoint): the follower must
	// be rebuilt from the object-store checkpoint.
	ErrNeedBootstrap = errors.New("replicate: the stream no longer holds the follower's next records")
	// ErrDiverged: the follower's local state is not a prefix of the
	// stream (its log is ahead of the stream, ends inside a record, or its
	// rolling hash differs from the stream's at its LSN): typically a
	// leader that failed or was fenced after logging records the stream
	// never stored. The directory must be rebuilt.
	ErrDiverged = errors.New("replicate: local state is not a prefix of the stream")
	// ErrStaleTerm: a record from an older leader term after a newer term
	// began. Fencing makes this impossible; the check makes it visible.
	ErrStaleTerm = errors.New("replicate: record from an older leader term")
	// ErrCatchUpStalled: CatchUp received no record for catchUpStall while
	// short of its target, e.g. a sequence the stream reported during a
	// quorum loss and then never stored. The caller retries from fresh
	// stream information rather than wait for ever holding the lease.
	ErrCatchUpStalled = errors.New("replicate: catch-up stalled")
	// ErrStreamUnavailable: the stream could not be read (its server
	// unreachable, the stream or the follower's consumer gone). Run
	// retries after it; CatchUp and Node's start return it.
	ErrStreamUnavailable = errors.New("replicate: stream unavailable")
)

// catchUpStall is how long CatchUp waits for the next record before it
// gives up with ErrCatchUpStalled. A catch-up in progress receives records
// back to back; a wait this long means the stream is not delivering the
// target. A variable so that tests can shorten it.
var catchUpStall = 10 * time.Second

// Run's pause after a failed spell of following: it starts at
// retryFirst, doubles after each spell that applied nothing, and stays at
// retryMax. Variables so that tests can shorten them.
var (
	retryFirst = time.Second
	retryMax   = 10 * time.Second
)

// Follower applies the stream's records, in order, to a bus opened with
// mmsb.Options.Follower, checking the leader's rolling state hash after
// each record.
type Follower struct {
	bus     *mmsb.Bus
	res     *resources
	metrics *Metrics
	// VerifyEvery: recompute the rolling hash from every page after this
	// many records (0: never), to catch corruption of pages no record
	// touches.
	VerifyEvery int

	onApplied func(last mmsb.LSN)
	// onTerm, when set, is told each term before the first record of it
	// is applied (Node.sawTerm keeps it across restarts); an error stops
	// the follower before the record.
	onTerm func(term uint64) error
	// logf, when set, is told each failed spell of Run's and its retry.
	logf func(format string, args ...any)

	seq     uint64 // stream sequence of the last applied record
	maxTerm uint64
	applied int
}

func newFollower(bus *mmsb.Bus, res *resources, m *Metrics) *Follower {
	return &Follower{bus: bus, res: res, metrics: m}
}

// getMsg returns the record message at stream sequence seq.
func (f *Follower) getMsg(ctx context.Context, seq uint64) (recordMeta, error) {
	ctx, cancel := f.res.call(ctx)
	defer cancel()
	m, err := f.res.stream.GetMsg(ctx, seq)
	if err != nil {
		return recordMeta{}, fmt.Errorf("%w: read stream sequence %d: %w", ErrStreamUnavailable, seq, err)
	}
	meta, err := parseHeaders(m.Header)
	if err != nil {
		return meta, fmt.Errorf("stream sequence %d: %w", seq, err)
	}
	return meta, nil
}

// locate returns the stream sequence of the record holding lsn, searching
// [first, last] (record LSN ranges increase with the sequence).
func (f *Follower) locate(ctx context.Context, lsn mmsb.LSN, first, last uint64) (uint64, recordMeta, error) {
	for first < last {
		mid := first + (last-first)/2
		meta, err := f.getMsg(ctx, mid)
		if err != nil {
			return 0, meta, err
		}
		if meta.Last < lsn {
			first = mid + 1
		} else {
			last = mid
		}
	}
	meta, err := f.getMsg(ctx, first)
	return first, meta, err
}

// position checks that the bus's state is a prefix of the stream and
// returns the sequence of the last record it holds (the next to apply
// follows it). The leader trims the stream concurrently, so a record the
// stream's info listed may be gone when it is read: then it looks again
// (a few times; trims are rare, one per archived checkpoint).
func (f *Follower) position(ctx context.Context) (uint64, error) {
	for attempt := 1; ; attempt++ {
		seq, err := f.positionOnce(ctx)
		if errors.Is(err, jetstream.ErrMsgNotFound) && attempt < 8 {
			continue
		}
		return seq, err
	}
}

func (f *Follower) positionOnce(ctx context.Context) (uint64, error) {
	ictx, cancel := f.res.call(ctx)
	info, err := f.res.stream.Info(ictx)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("%w: stream info: %w", ErrStreamUnavailable, err)
	}
	st := info.State
	lsn := f.bus.LastLSN()
	hash, _, err := f.bus.RollingHash()
	if err != nil {
		return 0, err
	}
	if st.Msgs == 0 {
		if lsn > 0 {
			return 0, fmt.Errorf("%w: the stream holds no records, the local bus is at LSN %d", ErrDiverged, lsn)
		}
		return st.LastSeq, nil
	}
	head, err := f.getMsg(ctx, st.FirstSeq)
	if err != nil {
		return 0, err
	}
	tail, err := f.getMsg(ctx, st.LastSeq)
	if err != nil {
		return 0, err
	}
	switch {
	case head.First > lsn+1:
		return 0, fmt.Errorf("%w: the stream starts at LSN %d, the local bus is at LSN %d", ErrNeedBootstrap, head.First, lsn)
	case head.First == lsn+1:
		// The record at lsn was trimmed; the next record's hash checks the
		// whole state (the rolling hash sums every page).
		return st.FirstSeq - 1, nil
	case tail.Last < lsn:
		return 0, fmt.Errorf("%w: the stream ends at LSN %d, the local bus is at LSN %d", ErrDiverged, tail.Last, lsn)
	}
	seq, meta, err := f.locate(ctx, lsn, st.FirstSeq, st.LastSeq)
	if err != nil {
		return 0, err
	}
	if meta.Last != lsn {
		return 0, fmt.Errorf("%w: local LSN %d falls inside the stream's record %d..%d", ErrDiverged, lsn, meta.First, meta.Last)
	}
	if meta.Hash != hash {
		f.metrics.HashMismatches.Add(1)
		return 0, fmt.Errorf("%w: at LSN %d the local rolling hash is %016x, the stream's %016x", ErrDiverged, lsn, hash, meta.Hash)
	}
	if err := f.seeTerm(meta.Term); err != nil {
		return 0, err
	}
	f.maxTerm = meta.Term
	return seq, nil
}

// seeTerm reports a term the follower is about to hold to onTerm.
func (f *Follower) seeTerm(term uint64) error {
	if f.onTerm == nil || term <= f.maxTerm {
		return nil
	}
	return f.onTerm(term)
}

// apply applies one record message.
func (f *Follower) apply(ctx context.Context, seq uint64, data []byte, meta recordMeta) error {
	if meta.Term < f.maxTerm {
		return fmt.Errorf("%w: stream sequence %d (LSN %d..%d) is from term %d after term %d", ErrStaleTerm, seq, meta.First, meta.Last, meta.Term, f.maxTerm)
	}
	if err := f.seeTerm(meta.Term); err != nil {
		return err
	}
	rec := mmsb.ReplicatedRecord{FirstLSN: meta.First, LastLSN: meta.Last, Payload: data, StateHash: meta.Hash}
	if err := f.bus.ApplyReplicated(ctx, &rec); err != nil {
		switch {
		case errors.Is(err, mmsb.ErrReplicaDiverged):
			f.metrics.HashMismatches.Add(1)
		case errors.Is(err, mmsb.ErrReplication):
			// The payload does not decode: the message is bad, and
			// reading it again will not change that (Node.Run stops).
			return fmt.Errorf("%w: stream sequence %d: %w", ErrBadMessage, seq, err)
		}
		return fmt.Errorf("replicate: stream sequence %d: %w", seq, err)
	}
	f.maxTerm, f.seq = meta.Term, seq
	f.applied++
	f.metrics.RecordsApplied.Add(1)
	f.metrics.AppliedLSN.Store(uint64(meta.Last))
	if f.onApplied != nil {
		f.onApplied(meta.Last)
	}
	if f.VerifyEvery > 0 && f.applied%f.VerifyEvery == 0 {
		if err := f.bus.VerifyRollingHash(); err != nil {
			f.metrics.HashMismatches.Add(1)
			return err
		}
	}
	return nil
}

// Run checks the bus's position in the stream, then applies records until
// ctx ends or an error stops it. A spell that ends with
// ErrStreamUnavailable (the server unreachable, the stream or the consumer
// gone) is logged and counted (mmsb_replication_stream_retries_total), and
// Run starts over from the position check after a pause (1 s, doubling to
// 10 s while nothing is applied), so a follower rides out an outage
// without reopening its bus. Run returns as soon as ctx ends, even while
// the client library is re-creating the consumer.
func (f *Follower) Run(ctx context.Context) error {
	pause := retryFirst
	for {
		applied := f.applied
		err := f.run(ctx, 0, false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, ErrStreamUnavailable) {
			return err
		}
		if f.applied > applied {
			pause = retryFirst
		}
		f.metrics.StreamRetries.Add(1)
		if f.logf != nil {
			f.logf("following at LSN %d: %v; retrying in %v", f.bus.LastLSN(), err, pause)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, retryMax)
	}
}

// CatchUp applies records until the one at stream sequence until. It
// returns ErrCatchUpStalled if no record arrives for catchUpStall before
// then, and ErrStreamUnavailable when its consumer fails and cannot be
// re-created at the first attempt: a leader-to-be catches up holding the
// lease, and a target the stream never delivers must not keep every node
// from leading.
func (f *Follower) CatchUp(ctx context.Context, until uint64) error { return f.run(ctx, until, true) }

// delivery is one result of the consumer's iterator.
type delivery struct {
	msg jetstream.Msg
	err error
}

// consume sends the consumer's messages, then the error that ended them,
// to out until done is closed. It runs apart from the apply loop because
// the library's calls that create and re-create the server-side consumer
// take no context and may block up to 10 s: run returns when its ctx
// ends, and this goroutine ends within that bound after it.
func consume(cons jetstream.Consumer, next []jetstream.NextOpt, out chan<- delivery, done <-chan struct{}) {
	send := func(d delivery) bool {
		select {
		case out <- d:
			return true
		case <-done:
			return false
		}
	}
	it, err := cons.Messages()
	if err != nil {
		send(delivery{err: fmt.Errorf("%w: consumer: %w", ErrStreamUnavailable, err)})
		return
	}
	go func() { <-done; it.Stop() }()
	for {
		msg, err := it.Next(next...)
		if err != nil && !errors.Is(err, nats.ErrTimeout) {
			err = fmt.Errorf("%w: consume: %w", ErrStreamUnavailable, err)
		}
		if !send(delivery{msg, err}) || err != nil {
			return
		}
	}
}

func (f *Follower) run(ctx context.Context, until uint64, bounded bool) error {
	seq, err := f.position(ctx)
	if err != nil {
		return err
	}
	f.seq = seq
	if bounded && f.seq >= until {
		return nil
	}
	// The ordered consumer re-creates its server-side consumer after a
	// gap or a lost heartbeat, by default for ever (each attempt waits up
	// to 10 s, and backs off), holding a lock its Stop needs and telling
	// nobody. One attempt here: when it fails the spell ends with
	// ErrStreamUnavailable, which Run logs and retries and which ends a
	// leader-to-be's catch-up (the node gives the lease up and tries
	// again).
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy:    jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:      f.seq + 1,
		MaxResetAttempts: 1,
	}
	cctx, cancel := f.res.call(ctx)
	cons, err := f.res.js.OrderedConsumer(cctx, f.res.cfg.StreamName(), cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("%w: consumer: %w", ErrStreamUnavailable, err)
	}
	var next []jetstream.NextOpt
	if bounded {
		next = append(next, jetstream.NextMaxWait(catchUpStall))
	}
	msgs := make(chan delivery, 1)
	done := make(chan struct{})
	defer close(done)
	go consume(cons, next, msgs, done)
	lagCtx, cancelLag := context.WithCancel(ctx)
	defer cancelLag()
	go f.trackLag(lagCtx)
	for {
		var d delivery
		select {
		case <-ctx.Done():
			return ctx.Err()
		case d = <-msgs:
		}
		if d.err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if bounded && errors.Is(d.err, nats.ErrTimeout) {
				return fmt.Errorf("%w: no record for %v at stream sequence %d of %d", ErrCatchUpStalled, catchUpStall, f.seq, until)
			}
			return d.err
		}
		md, err := d.msg.Metadata()
		if err != nil {
			return fmt.Errorf("replicate: message metadata: %w", err)
		}
		meta, err := parseHeaders(d.msg.Headers())
		if err != nil {
			return fmt.Errorf("stream sequence %d: %w", md.Sequence.Stream, err)
		}
		if err := f.apply(ctx, md.Sequence.Stream, d.msg.Data(), meta); err != nil {
			return err
		}
		if bounded && f.seq >= until {
			return nil
		}
	}
}

// trackLag refreshes the lag gauge from the stream's last record.
func (f *Follower) trackLag(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := f.res.call(ctx)
		m, err := f.res.stream.GetLastMsgForSubject(cctx, f.res.cfg.Subject())
		cancel()
		if err != nil {
			continue
		}
		meta, err := parseHeaders(m.Header)
		if err != nil {
			continue
		}
		applied := mmsb.LSN(f.metrics.AppliedLSN.Load())
		var lag uint64
		if meta.Last > applied {
			lag = uint64(meta.Last - applied)
		}
		f.metrics.LagLSN.Store(lag)
	}
}
