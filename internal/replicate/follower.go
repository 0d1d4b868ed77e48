package replicate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	// ErrStreamGap: the stream lacks records the follower has still to
	// apply: messages deleted inside it (nats stream rmm, or a server
	// that lost them) after the follower's last record, not trimmed from
	// its start. The follower cannot follow across them, and Node.Run
	// stops: an operator empties the directory once the leader has
	// stored a checkpoint past the gap, and the node is rebuilt from it.
	ErrStreamGap = errors.New("replicate: the stream lacks records the follower has still to apply")
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

	// bootstrapped is the LSN of the stored checkpoint the bus was just
	// rebuilt from (0: it was not): position accepts that state at the
	// checkpoint's LSN against a stream that holds no records (an
	// operator purged it), unless a newer checkpoint is stored (the
	// bootstrap fell back to an older one). The checkpoint is the
	// leader's state, stored only once the stream held every record it
	// covers.
	bootstrapped mmsb.LSN

	seq     uint64 // stream sequence of the last applied record
	maxTerm uint64
	// created is the creation time of the stream maxTerm was seen in
	// (zero before the first position check).
	created time.Time
	applied int
	// disconnectedLimit is the package's, read when the follower is
	// made: a test that shortens it and restores it at its end raced
	// with the spells of a follower still stopping. So are retryFirst
	// and retryMax, which Run read after every spell (runFollower's
	// cleanup restored them while Run still ran).
	disconnectedLimit    time.Duration
	retryFirst, retryMax time.Duration
	heartbeat            time.Duration // consumerHeartbeat, read the same way
}

// newFollower returns a follower of bus, its applied LSN (m.AppliedLSN)
// set to the bus's: a node opens a follower on each bus it opens, and a
// leader-to-be's, caught up, holds what the stream holds. Until 2026-12-07
// it stayed at 0 until the first record applied or published: a node
// restarted on a bus at LSN 14001096 showed applied_lsn=0 and
// lag_lsn=14001096, and as an idle leader applied_lsn=0 for good.
func newFollower(bus *mmsb.Bus, res *resources, m *Metrics) *Follower {
	m.AppliedLSN.Store(uint64(bus.LastLSN()))
	return &Follower{bus: bus, res: res, metrics: m, disconnectedLimit: disconnectedLimit, retryFirst: retryFirst, retryMax: retryMax, heartbeat: consumerHeartbeat}
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
// [first, last] (record LSN ranges increase with the sequence): the first
// record there whose last LSN is lsn or more. A message deleted inside
// the stream (nats stream rmm) is passed over, read as the next record
// after it (trimReader); before, its read failed the search, and every
// position check whose search met it, for ever: a follower whose LSN
// lies past such a gap could not restart. None there (purged or deleted
// since the stream's info was read) is jetstream.ErrMsgNotFound, which
// position retries.
func (f *Follower) locate(ctx context.Context, lsn mmsb.LSN, first, last uint64) (uint64, recordMeta, error) {
	rd := &trimReader{r: f.res, reads: map[uint64]trimRead{}}
	seq, meta, found, err := rd.find(ctx, lsn, first, last)
	if err != nil || found {
		return seq, meta, err
	}
	return 0, meta, fmt.Errorf("%w: stream sequences %d..%d hold no record at LSN %d or after: %w", ErrStreamUnavailable, first, last, lsn, jetstream.ErrMsgNotFound)
}

// position checks that the bus's state is a prefix of the stream and
// returns the sequence of the last record it holds (the next to apply
// follows it). The leader trims the stream concurrently, so a record the
// stream's info listed may be gone when it is read: then it looks again
// (a few times; trims are rare, one per archived checkpoint).
//
// Its reads end as soon as the connection is seen down (watchConnection
// with no allowance), with ErrStreamUnavailable wrapping
// ErrServerUnreachable: nats.go keeps a request made while it reconnects
// until its timeout, so each check of a follower whose server was gone
// waited AckTimeout before Run could log and retry
// (TestFollowerPositionEndsWhenConnectionDown).
func (f *Follower) position(ctx context.Context) (uint64, error) {
	pctx, down := context.WithCancelCause(ctx)
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); watchConnection(pctx, f.res.js.Conn(), 0, down) }()
	defer func() { down(nil); <-watchDone }()
	for attempt := 1; ; attempt++ {
		seq, err := f.positionOnce(pctx)
		if err != nil && ctx.Err() == nil && pctx.Err() != nil {
			return 0, positionDownErr(err, context.Cause(pctx))
		}
		if errors.Is(err, jetstream.ErrMsgNotFound) && attempt < 8 {
			continue
		}
		return seq, err
	}
}

// positionDownErr is position's error err once the connection was seen
// down (down: ErrServerUnreachable naming it). A read that the loss
// ended (a cancelled context) is the loss: ErrStreamUnavailable wrapping
// down, which Run retries. Any other error stands, as it is: a verdict
// reached before the loss (ErrDiverged, ErrNeedBootstrap), a record
// that does not parse (ErrBadMessage), a failure of the bus, or a read
// that failed otherwise (ErrStreamUnavailable already: down is added). Until
// 2026-12-07 every error became "unavailable" once the watch fired, and
// Run retried a diverged follower, or one needing a bootstrap, instead
// of setting it aside or rebuilding it
// (TestPositionDownErrKeepsOtherErrors).
func positionDownErr(err, down error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: position: %w", ErrStreamUnavailable, down)
	case errors.Is(err, ErrStreamUnavailable) && !errors.Is(err, ErrServerUnreachable):
		return fmt.Errorf("%w (%w)", err, down)
	}
	return err
}

func (f *Follower) positionOnce(ctx context.Context) (uint64, error) {
	ictx, cancel := f.res.call(ctx)
	info, err := f.res.stream.Info(ictx)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("%w: stream info: %w", ErrStreamUnavailable, err)
	}
	if !info.Created.Equal(f.created) {
		// The stream was deleted and made again while Run retried (an
		// operator, or a restarted node's NewNode): its terms start
		// afresh. Kept, the old stream's term made the new leader's
		// first record "from an older leader term" (ErrStaleTerm), and
		// the node stopped.
		f.created, f.maxTerm = info.Created, 0
	}
	st := info.State
	lsn := f.bus.LastLSN()
	hash, _, err := f.bus.RollingHash()
	if err != nil {
		return 0, err
	}
	if st.Msgs == 0 {
		if lsn == 0 {
			// An empty bus on an empty stream is a prefix of it, but not
			// of the leader's state when a checkpoint is stored (an
			// operator purged the stream): taken as it was, the node led
			// from the empty state, restarting the history at LSN 1 below
			// the stored checkpoint. Behind the stored state, it is
			// rebuilt from the newest checkpoint.
			lsns, err := f.res.checkpointObjects(ctx)
			if err != nil {
				return 0, fmt.Errorf("%w: %w", ErrStreamUnavailable, err)
			}
			if n := len(lsns); n > 0 && lsns[n-1] > 0 {
				return 0, fmt.Errorf("%w: the stream holds no records, the local bus is at LSN 0, the newest stored checkpoint at LSN %d", ErrNeedBootstrap, lsns[n-1])
			}
		}
		if lsn > 0 && lsn == f.bootstrapped {
			// Rebuilt from a stored checkpoint, possibly an older one
			// than the newest (bootstrapFrom falls back when the newest
			// is damaged): the stream continued it when the bootstrap
			// looked, but an operator may have purged it since. Taken
			// on the empty stream, the node led from the older state,
			// the history restarting below the newest stored one (the
			// acknowledged commits between them gone from it).
			lsns, err := f.res.checkpointObjects(ctx)
			if err != nil {
				return 0, fmt.Errorf("%w: %w", ErrStreamUnavailable, err)
			}
			if n := len(lsns); n > 0 && lsns[n-1] > lsn {
				return 0, fmt.Errorf("%w: the stream holds no records, the local bus is at LSN %d (rebuilt from the stored checkpoint there), the newest stored checkpoint at LSN %d", ErrNeedBootstrap, lsn, lsns[n-1])
			}
		}
		if lsn > 0 && lsn != f.bootstrapped {
			// A directory rebuilt from the newest stored checkpoint by an
			// earlier run (a follow-only replica restarted while the
			// stream stays empty) holds that checkpoint's file: it is
			// the stored state, not ahead of it. Without this check it
			// was set aside, and rebuilt from the same checkpoint, at
			// every restart.
			same, err := f.holdsNewestCheckpoint(ctx, lsn)
			if err != nil {
				return 0, err
			}
			if !same {
				return 0, fmt.Errorf("%w: the stream holds no records, the local bus is at LSN %d", ErrDiverged, lsn)
			}
			f.bootstrapped = lsn
		}
		return st.LastSeq, nil
	}
	// The stream's first and last records, read as trim reads them
	// (trimReader): the info's last sequence stays that of a last
	// message deleted inside the stream (nats stream rmm), which an
	// exact read failed ("message not found") at each try of every
	// restart until the leader published again
	// (TestFollowerPositionsWithStreamEndsDeleted).
	rd := &trimReader{r: f.res, reads: map[uint64]trimRead{}}
	headSeq, head, ok, err := rd.next(ctx, st.FirstSeq)
	if err != nil {
		return 0, err
	}
	var tailSeq uint64
	var tail recordMeta
	if ok {
		if tailSeq, tail, ok, err = rd.last(ctx); err != nil {
			return 0, err
		}
	}
	if !ok {
		// Emptied since its info (purged): position looks again.
		return 0, fmt.Errorf("%w: the stream holds no record since its info was read: %w", ErrStreamUnavailable, jetstream.ErrMsgNotFound)
	}
	switch {
	case head.First > lsn+1:
		return 0, fmt.Errorf("%w: the stream starts at LSN %d, the local bus is at LSN %d", ErrNeedBootstrap, head.First, lsn)
	case head.First == lsn+1:
		// The record at lsn was trimmed; the next record's hash checks the
		// whole state (the rolling hash sums every page).
		return headSeq - 1, nil
	case tail.Last < lsn:
		return 0, fmt.Errorf("%w: the stream ends at LSN %d, the local bus is at LSN %d", ErrDiverged, tail.Last, lsn)
	}
	seq, meta, err := f.locate(ctx, lsn, headSeq, tailSeq)
	if err != nil {
		return 0, err
	}
	if meta.First == lsn+1 {
		// The record ending at lsn was deleted inside the stream (nats
		// stream rmm) and the next one was found: as when it is trimmed
		// (above), the next record's hash checks the whole state. Taken
		// for a record lsn falls inside, the follower was set aside as
		// diverged and rebuilt (TestFollowerPositionsPastItsDeletedRecord).
		return seq - 1, nil
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

// holdsNewestCheckpoint reports whether the bus, at lsn, is the newest
// stored checkpoint: that checkpoint is at lsn and the bus directory holds
// its file, byte for byte (the object store's SHA-256 digest). The file is
// the one a bootstrap downloaded; the bus at its LSN holds the state it
// holds. A bus at an older checkpoint is behind the stored state and is
// not taken. The sizes are compared first: a file whose size is not the
// object's is not it, and is not read (it was hashed whole, possibly GiB,
// at every start on an empty stream).
func (f *Follower) holdsNewestCheckpoint(ctx context.Context, lsn mmsb.LSN) (bool, error) {
	lsns, err := f.res.checkpointObjects(ctx)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrStreamUnavailable, err)
	}
	if len(lsns) == 0 || lsns[len(lsns)-1] != lsn || f.bus.Dir() == "" {
		return false, nil
	}
	path := filepath.Join(f.bus.Dir(), "checkpoints", fmt.Sprintf("checkpoint-%020d.ckpt", lsn))
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("replicate: %w", err)
	}
	ictx, cancel := f.res.call(ctx)
	info, err := f.res.ckpts.GetInfo(ictx, ckptObjectName(lsn))
	cancel()
	if err != nil {
		return false, fmt.Errorf("%w: checkpoint at LSN %d: %w", ErrStreamUnavailable, lsn, err)
	}
	if !st.Mode().IsRegular() || st.Size() < 0 || uint64(st.Size()) != info.Size {
		return false, nil
	}
	local, err := checkpointDigest(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return info.Digest == local, nil
}

// checkpointDigest is fileDigest; a variable so that a test can count
// the files read.
var checkpointDigest = fileDigest

// fileDigest returns the SHA-256 digest of the file at path in the form
// the object store gives an object's (ObjectInfo.Digest).
func fileDigest(path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = file.Close() }() // read only: nothing to lose
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return "", fmt.Errorf("replicate: read %s: %w", path, err)
	}
	return jetstream.GetObjectDigestValue(h), nil
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
	if at := f.bus.LastLSN(); meta.First <= at {
		// The position check started the consumer after the record
		// ending at the bus's LSN: a record the bus already holds after
		// it means the stream repeats records, and following it again
		// would meet the same one (Node.Run reopened the bus and stopped
		// on it every LeaseTTL/4, for ever; no node could lead).
		return fmt.Errorf("%w: stream sequence %d holds LSN %d..%d, which the follower already applied (it is at LSN %d): the stream repeats records", ErrBadMessage, seq, meta.First, meta.Last, at)
	}
	if at := f.bus.LastLSN(); meta.First > at+1 {
		if err := f.gapDeleted(ctx, seq, meta, at); err != nil {
			return err
		}
		// Trimmed past the follower: the bus refuses the record, and
		// the next position check says so (ErrNeedBootstrap).
	}
	if err := f.seeTerm(meta.Term); err != nil {
		return err
	}
	rec := mmsb.ReplicatedRecord{FirstLSN: meta.First, LastLSN: meta.Last, Payload: data, StateHash: meta.Hash}
	if err := f.bus.ApplyReplicated(ctx, &rec); err != nil {
		switch {
		case errors.Is(err, mmsb.ErrReplicaDiverged):
			f.metrics.HashMismatches.Add(1)
		case errors.Is(err, mmsb.ErrReplication) && !errors.Is(err, mmsb.ErrFailed):
			// The payload does not decode (or its creates have sizes
			// no page has): the message is bad, and reading it again
			// will not change that (Node.Run stops). A failed bus is
			// not the message's fault: its own log could not take the
			// record (a disk error), and a node that reopens the bus
			// takes the record again.
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

// gapDeleted returns ErrStreamGap when the record at stream sequence seq
// (meta), which does not continue the follower's LSN at, follows
// messages deleted inside the stream: the stream still starts at or
// before the first of them (f.seq+1), so they were not trimmed. Until
// 2026-12-07 the bus's refusal of the record ("gap: record starts at
// LSN …") ended the role, and the next cycle positioned the follower
// where it was and met the same record, every LeaseTTL/4, for ever
// (TestFollowerStopsAtGapInsideStream).
func (f *Follower) gapDeleted(ctx context.Context, seq uint64, meta recordMeta, at mmsb.LSN) error {
	if seq <= f.seq+1 {
		return nil // no message is missing: the bus says what is wrong
	}
	ictx, cancel := f.res.call(ctx)
	info, err := f.res.stream.Info(ictx)
	cancel()
	if err != nil {
		return fmt.Errorf("%w: stream info: %w", ErrStreamUnavailable, err)
	}
	if info.State.FirstSeq > f.seq+1 {
		return nil // trimmed
	}
	return fmt.Errorf("%w: stream sequence %d holds LSN %d..%d, the follower is at LSN %d (stream sequence %d): the message(s) at sequence %d..%d holding LSN %d..%d were deleted inside the stream (nats stream rmm, or a server that lost them); this node cannot follow across them: once the leader has stored a checkpoint past LSN %d, empty %s and start the node to rebuild it from that checkpoint",
		ErrStreamGap, seq, meta.First, meta.Last, at, f.seq, f.seq+1, seq-1, at+1, meta.First-1, meta.First-1, f.bus.Dir())
}

// Run checks the bus's position in the stream, then applies records until
// ctx ends or an error stops it. A spell that ends with
// ErrStreamUnavailable (the server unreachable, the stream or the consumer
// gone) is logged and counted (mmsb_replication_stream_retries_total), and
// Run starts over from the position check after a pause (1 s, doubling to
// 10 s while nothing is applied), so a follower rides out an outage
// without reopening its bus. Run returns as soon as ctx ends, and no
// goroutine it started outlives it.
func (f *Follower) Run(ctx context.Context) error {
	pause := f.retryFirst
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
			pause = f.retryFirst
		}
		f.metrics.StreamRetries.Add(1)
		// Nothing refreshes the lag until a spell runs again, and the
		// stream could not be read: the last value is not current.
		f.metrics.LagUnknown.Store(true)
		if u := unreachable(f.res.js.Conn()); u != nil && !errors.Is(err, ErrServerUnreachable) {
			// A read that timed out says only "context deadline
			// exceeded": say why.
			err = fmt.Errorf("%w (%w)", err, u)
		}
		if f.logf != nil {
			f.logf("following at LSN %d: %v; retrying in %v", f.bus.LastLSN(), err, pause)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, f.retryMax)
	}
}

// CatchUp applies records until the one at stream sequence until. It
// returns ErrCatchUpStalled if no record arrives for catchUpStall before
// then, and ErrStreamUnavailable when its consumer fails (it is not made
// again): a leader-to-be catches up holding the lease, and a target the
// stream never delivers must not keep every node from leading.
func (f *Follower) CatchUp(ctx context.Context, until uint64) error { return f.run(ctx, until, true) }

// consumerInactive is how long the server keeps a spell's consumer once
// nobody pulls from it: the consumer of a follower that crashed, or whose
// delete at the spell's end failed (the server unreachable then).
const consumerInactive = 5 * time.Minute

// consumerDeleteTimeout bounds the delete of a spell's consumer when the
// spell ends (a stop, a retry, a catch-up done): best effort, so that a
// follower that goes away cleanly leaves no consumer for consumerInactive,
// without holding up its stop for long when the server does not answer.
const consumerDeleteTimeout = time.Second

// dropConsumer deletes the spell's consumer name, best effort: a failure
// leaves it to the server's inactivity threshold.
func (f *Follower) dropConsumer(name string) {
	d := consumerDeleteTimeout
	if a := f.res.cfg.AckTimeout; a > 0 && a < d {
		d = a
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = f.res.stream.DeleteConsumer(ctx, name)
}

// consumerHeartbeat is the idle heartbeat a spell's consumer asks for; two
// missed end the spell with ErrStreamUnavailable. A variable so that tests
// can shorten it (before newFollower; nats.go takes 500 ms at least).
var consumerHeartbeat = 5 * time.Second

// disconnectedLimit is how long a spell's connection may be down (in
// all, since it was last up that long in a row: watchConnection; nats.go
// reconnects for ever) before the spell ends with ErrStreamUnavailable: two heartbeats, the time a spell on a live
// connection takes to notice a silent server. Not an option: it counts
// only time the connection is down, when the spell can read nothing (a
// slow link that stays connected is not counted), and a spell ended
// early costs a logged retry. A variable so that tests can shorten it
// (before newFollower).
var disconnectedLimit = 2 * consumerHeartbeat

// watchConnection calls end with ErrServerUnreachable once nc has been
// unconnected for limit in all since it was last connected for limit in
// a row, or returns when ctx ends. nats.go pauses a consumer's heartbeat
// check while it reconnects, and restarts it (two heartbeats) once
// connected, so missed heartbeats alone never end a spell whose server
// is gone, nor one whose connection never stays up that long (a link
// that flaps, a server that fails as it starts). Counted per outage,
// a connection down 9 s and up 1 s, over and over, never ended the spell
// either, however long the follower got nothing
// (TestWatchConnectionEndsOnFlappingConnection).
func watchConnection(ctx context.Context, nc natsConn, limit time.Duration, end context.CancelCauseFunc) {
	ch := nc.StatusChanged(nats.CONNECTED, nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED)
	defer nc.RemoveStatusListener(ch)
	left := limit                 // how much longer the connection may be down
	up, since := true, time.Now() // as last seen, and since when
	timer := time.NewTimer(limit)
	timer.Stop()
	defer timer.Stop()
	for {
		// Read after registering and after each event, so that an
		// event the listener's full buffer dropped changes nothing.
		switch now, conn := time.Now(), nc.IsConnected(); {
		case conn && !up:
			left -= now.Sub(since)
			up, since = true, now
			timer.Reset(limit) // up for limit in a row: its down time is forgiven
		case !conn && up:
			up, since = false, now
			timer.Reset(max(left, 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
			continue
		case <-timer.C:
		}
		if up {
			left = limit
			continue
		}
		if err := unreachable(nc); err != nil {
			if limit > 0 {
				err = fmt.Errorf("%w for %v", err, limit)
			}
			end(err)
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
	// One ephemeral pull consumer per spell, made and read with calls
	// that take ctx, so that no goroutine of the spell outlives it. It
	// was an ordered consumer, whose making and re-making take no
	// context and may block 10 s each (holding a lock its Stop needs):
	// they ran in a goroutine of their own that outlived Run, Node.Run
	// and the bus's Close by up to 10 s. Where the ordered consumer
	// re-made itself, the spell ends with ErrStreamUnavailable (a gap in
	// delivery, missed heartbeats, the consumer gone), which Run logs
	// and retries from the position check and which ends a
	// leader-to-be's catch-up (the node gives the lease up and tries
	// again).
	cfg := jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       f.seq + 1,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: consumerInactive,
		Replicas:          1,
		MemoryStorage:     true,
	}
	cctx, cancel := f.res.call(ctx)
	cons, err := f.res.stream.CreateConsumer(cctx, cfg)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: consumer: %w", ErrStreamUnavailable, err)
	}
	// Deleted after the iterator stops (defers run last first).
	defer f.dropConsumer(cons.CachedInfo().Name)
	it, err := cons.Messages(jetstream.PullHeartbeat(f.heartbeat), jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return fmt.Errorf("%w: consumer: %w", ErrStreamUnavailable, err)
	}
	defer it.Stop()
	// The spell's reads end when the connection stays down: nats.go
	// reconnects for ever (Connect) and pauses the consumer's heartbeat
	// check while it does, so a follower whose server was gone waited in
	// Next for ever, silent, its retries uncounted.
	sctx, endSpell := context.WithCancelCause(ctx)
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); watchConnection(sctx, f.res.js.Conn(), f.disconnectedLimit, endSpell) }()
	defer func() { endSpell(nil); <-watchDone }()
	lagCtx, cancelLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() { defer close(lagDone); f.trackLag(lagCtx) }()
	defer func() { cancelLag(); <-lagDone }()
	var delivered uint64 // the consumer's delivery sequence
	for {
		nctx, ncancel := sctx, context.CancelFunc(func() {})
		if bounded {
			nctx, ncancel = context.WithTimeout(sctx, catchUpStall)
		}
		msg, err := it.Next(jetstream.NextContext(nctx))
		ncancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if sctx.Err() != nil {
				return fmt.Errorf("%w: consume: %w", ErrStreamUnavailable, context.Cause(sctx))
			}
			if bounded && errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("%w: no record for %v at stream sequence %d of %d", ErrCatchUpStalled, catchUpStall, f.seq, until)
			}
			return fmt.Errorf("%w: consume: %w", ErrStreamUnavailable, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("replicate: message metadata: %w", err)
		}
		if md.Sequence.Consumer != delivered+1 {
			// A message the consumer delivered did not arrive: start over
			// from the position check (the bus would refuse the gap).
			return fmt.Errorf("%w: consume: delivery %d after %d (stream sequence %d after %d)", ErrStreamUnavailable, md.Sequence.Consumer, delivered, md.Sequence.Stream, f.seq)
		}
		delivered = md.Sequence.Consumer
		meta, err := parseHeaders(msg.Headers())
		if err != nil {
			return fmt.Errorf("stream sequence %d: %w", md.Sequence.Stream, err)
		}
		if err := f.apply(ctx, md.Sequence.Stream, msg.Data(), meta); err != nil {
			return err
		}
		if bounded && f.seq >= until {
			return nil
		}
	}
}

// trackLag refreshes the lag gauge from the stream's last record every
// 250 ms, and marks it unknown when the stream cannot be read.
func (f *Follower) trackLag(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !f.res.js.Conn().IsConnected() {
			// Asked now, the read waited AckTimeout (nats.go holds a
			// request while it reconnects), the last lag shown as
			// current meanwhile: 5 s of "lag_lsn=2000" on the status
			// line of a follower whose leader was killed
			// (TestFollowerLagUnknownAtOnceWhenConnectionDown).
			f.metrics.LagUnknown.Store(true)
			continue
		}
		cctx, cancel := f.res.call(ctx)
		m, err := f.res.stream.GetLastMsgForSubject(cctx, f.res.cfg.Subject())
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			// The stream was read and holds no record (no leader has
			// committed yet, or it was purged): nothing to apply. Until
			// 2026-12-07 this was "unknown", and every follower of a bus
			// with no commit answered /readyz/reads 503 "the stream
			// cannot be read" (TestFollowerLagKnownOnEmptyStream).
			f.metrics.LagLSN.Store(0)
			f.metrics.LagUnknown.Store(false)
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				// The last value is no longer current: say so rather
				// than keep showing it (until 2026-12-06 it stayed).
				f.metrics.LagUnknown.Store(true)
			}
			continue
		}
		meta, err := parseHeaders(m.Header)
		if err != nil {
			f.metrics.LagUnknown.Store(true)
			continue
		}
		applied := mmsb.LSN(f.metrics.AppliedLSN.Load())
		var lag uint64
		if meta.Last > applied {
			lag = uint64(meta.Last - applied)
		}
		f.metrics.LagLSN.Store(lag)
		f.metrics.LagUnknown.Store(false)
	}
}
