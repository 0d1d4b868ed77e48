package mmsb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// Replication errors (docs/replication.md).
var (
	// ErrReplication: a replicated record was not stored by the replication
	// target (the stream refused it, the quorum was lost, the lease was
	// lost, the acknowledgement timed out). The bus fails (sticky ErrFailed):
	// the record is in the local log and applied, but the stream may not
	// hold it, so this node's state may be ahead of every other replica; it
	// must be rebuilt as a follower of the stream before it serves again.
	// A record the Replicator refuses before it is logged (its target known
	// to be out of reach: the leader's NATS connection down) is refused
	// with ErrReplication too, but not sticky: nothing changed, and the
	// bus goes on once replication is back.
	ErrReplication = errors.New("mmsb: replication failed")
	// ErrFollower: a write to a bus opened as a follower (Options.Follower).
	// A follower changes only through ApplyReplicated.
	ErrFollower = errors.New("mmsb: bus is a read-only follower")
	// ErrReplicaOrder: a replicated record that does not continue the
	// follower's log (a gap or a duplicate). Nothing was applied.
	ErrReplicaOrder = errors.New("mmsb: replicated record out of order")
	// ErrReplicaDiverged: the follower's rolling state hash differs from the
	// leader's after a record, or from a full recomputation of its own pages,
	// or a replicated record does not apply to the follower's state (it is
	// then not logged). The follower fails (sticky): its state is not the
	// leader's.
	ErrReplicaDiverged = errors.New("mmsb: follower state diverged from the leader")
	// ErrRecordTooLarge: a batch (or a propagation wave, or a call
	// creating or changing many pages) whose log record is larger than one
	// log record holds (256 MiB of payload) or than the Replicator carries
	// in one message. Refused before it is logged: nothing changed, and the
	// bus stays usable; commit it in smaller batches.
	ErrRecordTooLarge = errors.New("mmsb: batch record too large")
)

// SyncReplicated acknowledges a commit only after an fsync of the local log
// covers it (as SyncGroup) AND the Replicator (Options.Replicator) reports
// the record stored. It needs a Replicator.
const SyncReplicated = SyncMode(3)

// ReplicatedRecord is one committed batch record as the log holds it: the
// unit of replication.
type ReplicatedRecord struct {
	FirstLSN LSN // LSN of the record's first operation
	LastLSN  LSN // LSN of its last operation
	// Payload is the record payload exactly as logged (docs/tlog.md: the
	// bytes inside the frame). A Replicator must copy it: it is reused.
	Payload []byte
	// StateHash is the bus's rolling state hash after the record was
	// applied (Bus.RollingHash).
	StateHash uint64
}

// Replicator receives every committed record of a bus, in log order
// (Options.Replicator). The bus calls Replicate with its write lock held,
// so it must not wait for the network: it starts the replication (queues a
// publish) and returns. WaitStored then waits for the acknowledgements;
// records are acknowledged in log order. A Replicator may also have a
// method Ready() error, which the bus calls before it logs each record
// (with its write lock held: it must not wait): an error there refuses
// the record before it is logged, with ErrReplication wrapping it, and
// the bus goes on (a leader whose connection to its stream is down).
type Replicator interface {
	// MaxRecordBytes is the largest payload one message can carry (0: no
	// limit). A larger batch is refused with ErrRecordTooLarge before it is
	// logged; split it into smaller batches.
	MaxRecordBytes() int
	// Replicate starts replicating rec. It must copy rec.Payload. An error
	// fails the bus (ErrReplication).
	Replicate(rec *ReplicatedRecord) error
	// WaitStored returns once every record up to lsn is stored, or the
	// error that stopped replication. An error fails the bus.
	WaitStored(ctx context.Context, lsn LSN) error
}

// replicatorReady is a Replicator that can tell, before a record is
// logged, that it cannot replicate it now (its target is known to be out
// of reach): the bus calls Ready, with its write lock held (it must not
// wait), before it logs each record, and an error refuses the record
// (ErrReplication, not sticky: nothing was logged, and the bus goes on).
// Without it, a leader whose NATS connection was down logged and applied
// each commit, then waited the whole acknowledgement timeout before the
// commit failed, failing the bus (TestReplicatorNotReadyRefusesBeforeLog).
// The method is optional, so that a Replicator written before it still
// is one.
type replicatorReady interface{ Ready() error }

// rollingHash keeps the rolling state hash: the sum (mod 2^64) over every
// page of xxhash64(ID, size, epoch, bytes), the same fields StateHash
// covers. A record changes only the pages it touches, so the sum is updated
// by subtracting their old per-page hashes and adding the new ones: the cost
// per record is one hash of each distinct page it writes, not of the state.
type rollingHash struct {
	sum   uint64
	pages map[PageID]uint64
	ops   []record.Op
	ids   []PageID
	dec   record.Decoder
}

// replicating reports whether the bus keeps a rolling hash (leader with a
// Replicator, or follower).
func (o *Options) replicating() bool { return o.Replicator != nil || o.Follower }

// logSync is the local log's sync mode: SyncReplicated syncs like group.
func (o *Options) logSync() tlog.SyncMode {
	if o.Sync == SyncReplicated {
		return tlog.SyncGroup
	}
	return tlog.SyncMode(o.Sync)
}

func (o *Options) checkReplication() error {
	switch {
	case o.Sync == SyncReplicated && o.Replicator == nil:
		return fmt.Errorf("%w: sync mode replicated needs Options.Replicator", ErrInvalidOption)
	case o.Follower && o.Replicator != nil:
		return fmt.Errorf("%w: a follower cannot have a Replicator (it does not commit)", ErrInvalidOption)
	case o.replicating() && o.DisableLog:
		return fmt.Errorf("%w: replication needs the log (DisableLog is set)", ErrInvalidOption)
	}
	return nil
}

// pageHash is one page's term of the rolling hash.
func (e *Bus) pageHash(sl page.Slot) uint64 {
	var hdr [24]byte
	binary.LittleEndian.PutUint64(hdr[0:], uint64(e.store.ID(sl)))
	binary.LittleEndian.PutUint64(hdr[8:], uint64(e.store.Size(sl)))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(e.store.Epoch(sl)))
	d := xxhash.New()
	_, _ = d.Write(hdr[:])
	_, _ = d.Write(e.store.Bytes(sl))
	return d.Sum64()
}

// fullRollingHash recomputes the rolling hash from every page, and the
// per-page terms when pages is not nil. Caller holds e.mu.
func (e *Bus) fullRollingHash(pages map[PageID]uint64) uint64 {
	var sum uint64
	e.store.ForEach(func(sl page.Slot) bool {
		h := e.pageHash(sl)
		sum += h
		if pages != nil {
			pages[e.store.ID(sl)] = h
		}
		return true
	})
	return sum
}

// initRollingHash computes the rolling hash of the recovered state (Open).
func (e *Bus) initRollingHash() {
	if !e.opts.replicating() {
		return
	}
	rh := &rollingHash{pages: map[PageID]uint64{}}
	rh.sum = e.fullRollingHash(rh.pages)
	e.rh = rh
}

// rollOps updates the rolling hash for the pages ops wrote, created or
// freed (applied already). Caller holds e.mu.
func (e *Bus) rollOps(ops []record.Op) {
	rh := e.rh
	ids := rh.ids[:0]
	for i := range ops {
		switch op := &ops[i]; op.Kind {
		case record.OpDelta, record.OpDerived:
			ids = append(ids, op.Delta.Page)
		case record.OpCreatePage, record.OpFreePage:
			ids = append(ids, op.Page)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		rh.sum -= rh.pages[id]
		if sl, ok := e.store.Lookup(id); ok {
			h := e.pageHash(sl)
			rh.pages[id] = h
			rh.sum += h
		} else {
			delete(rh.pages, id)
		}
	}
	rh.ids = ids
}

// decodeOps decodes a record payload of n operations into the rolling
// hash's scratch. Caller holds e.mu.
func (e *Bus) decodeOps(payload []byte, n int) ([]record.Op, error) {
	rh := e.rh
	if err := rh.dec.Reset(payload); err != nil {
		return nil, err
	}
	if cap(rh.ops) < n {
		rh.ops = make([]record.Op, n)
	}
	ops := rh.ops[:n]
	for i := range ops {
		if err := rh.dec.Next(&ops[i]); err != nil {
			return nil, err
		}
	}
	return ops, nil
}

// checkRecordBytes refuses a record larger than the log's record limit or
// than the Replicator carries, before it is logged (nothing changes, and
// the bus stays usable: the log's own refusal would fail it). Caller holds
// e.mu. It asks nothing that can change between two calls for the same
// bytes: propagation's choice to leave the wave op out rests on it
// (checkReplicatorReady is asked once per record, by appendLocked).
func (e *Bus) checkRecordBytes(payloadBytes int) error {
	if payloadBytes > tlog.MaxRecordBytes {
		return fmt.Errorf("%w: %d bytes, a log record holds at most %d (commit smaller batches)", ErrRecordTooLarge, payloadBytes, tlog.MaxRecordBytes)
	}
	r := e.opts.Replicator
	if r == nil {
		return nil
	}
	var m int
	if err := guardReplicator("MaxRecordBytes", func() error { m = r.MaxRecordBytes(); return nil }, nil); err != nil {
		return err
	}
	if m > 0 && payloadBytes > m {
		return fmt.Errorf("%w: %d bytes, the replication stream carries at most %d per message (commit smaller batches)", ErrRecordTooLarge, payloadBytes, m)
	}
	return nil
}

// checkReplicatorReady asks a Replicator that has Ready (replicatorReady)
// whether it can replicate a record now. appendLocked alone calls it,
// once per record, just before the record is logged: its answer can
// change at any moment (a connection drops), so a record's bytes must
// not rest on it. Asked a second time by propagation too, a refusal there
// left the wave op out of a record that the next answer let be logged
// (TestReplicatorReadyAskedOncePerWave). Caller holds e.mu.
func (e *Bus) checkReplicatorReady() error {
	rd, ok := e.opts.Replicator.(replicatorReady)
	if !ok {
		return nil
	}
	if err := guardReplicator("Ready", rd.Ready, nil); err != nil {
		if errors.Is(err, ErrReplication) {
			return err // a panic, said so
		}
		return fmt.Errorf("%w: refused before it was logged (nothing changed; retry once replication is back): %w", ErrReplication, err)
	}
	return nil
}

// replicateLocked hands a logged and applied record to the Replicator,
// after rolling the hash over it. Caller holds e.mu. A failure fails the
// bus: the record is logged and applied here but may never reach the
// stream.
func (e *Bus) replicateLocked(first, last LSN, payload []byte) error {
	if e.opts.Replicator == nil {
		return nil
	}
	ops, err := e.decodeOps(payload, int(last-first+1))
	if err != nil {
		return e.fail(fmt.Errorf("%w: re-decoding record at LSN %d: %w", ErrReplication, first, err))
	}
	e.rollOps(ops)
	rec := ReplicatedRecord{FirstLSN: first, LastLSN: last, Payload: payload, StateHash: e.rh.sum}
	failed := func(err error) error {
		return e.fail(fmt.Errorf("%w: LSN %d..%d: %w", ErrReplication, first, last, err))
	}
	if err := guardReplicator("Replicate", func() error { return e.opts.Replicator.Replicate(&rec) }, failed); err != nil {
		return failed(err)
	}
	return nil
}

// guardReplicator calls fn, a call of the Replicator's method named
// method, turning a panic into an error wrapping ErrReplication, as the
// clock's and the recompute functions' panics are: Replicate and
// MaxRecordBytes run under e.mu, and a panic there left it locked, so
// every later call of the bus, Close too, hung
// (TestReplicatorPanicFailsTheBus). As for an error the method returns, a
// panic in Replicate or WaitStored fails the bus (the record is logged and
// may never reach the stream); one in MaxRecordBytes refuses the batch
// before anything is logged.
//
// A method that ends the goroutine with runtime.Goexit (t.FailNow in a
// test's Replicator) never returns, and cannot be stopped: the callers'
// deferred calls release the bus's lock, but a Replicate or WaitStored
// that ended so did not hand on or store the record any more than one
// that panicked, and the bus went on as if it had (a replica short of a
// batch the leader reports committed). goexited, if not nil, is called
// then, as the goroutine ends, with the error that stands for it, to fail
// the bus as the panic's error would (TestReplicatorGoexitFailsTheBus).
// MaxRecordBytes passes nil: nothing is logged yet, and the lock's release
// is all there is to do.
//
// panic(nil) is a panic like any other (recover returns a
// *runtime.PanicNilError), but under GODEBUG=panicnil=1 recover returns
// nil for it, and stops it, as for no panic at all: the method neither
// returned nor ended the goroutine, and guardReplicator returns. The
// error is then returned as well (that of a Goexit, which it cannot be
// told from before the return), so that the caller fails the bus or
// refuses the batch: guardReplicator returned nil, and the commit
// reported success for a record never handed on, or a MaxRecordBytes
// that said nothing let any batch through
// (TestReplicatorNilPanicFailsTheBus).
func guardReplicator(method string, fn func() error, goexited func(error) error) (err error) {
	returned := false
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: Replicator.%s panicked: %v", ErrReplication, method, v)
		} else if !returned {
			err = fmt.Errorf("%w: Replicator.%s ended its goroutine (runtime.Goexit) or panicked with nil (GODEBUG=panicnil=1) without returning", ErrReplication, method)
			if goexited != nil {
				_ = goexited(err)
			}
		}
	}()
	err = fn()
	returned = true
	return err
}

// waitReplicated waits until the Replicator has stored every record up to
// lsn (SyncReplicated only). A failure fails the bus.
func (e *Bus) waitReplicated(ctx context.Context, lsn LSN) error {
	if e.opts.Sync != SyncReplicated {
		return nil
	}
	failed := func(err error) error {
		e.lockSettled()
		// "not confirmed", not "not stored": the record is logged, and
		// the replica may hold it (its acknowledgement lost) or not.
		err = e.fail(fmt.Errorf("%w: LSN %d not confirmed stored: %w", ErrReplication, lsn, err))
		e.mu.Unlock()
		return err
	}
	if err := guardReplicator("WaitStored", func() error { return e.opts.Replicator.WaitStored(ctx, lsn) }, failed); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		return failed(err)
	}
	return nil
}

// writable returns why the bus refuses writes: usable's reasons, or
// ErrFollower on a follower. Caller holds e.mu.
func (e *Bus) writable() error {
	if err := e.usable(); err != nil {
		return err
	}
	if e.opts.Follower {
		return fmt.Errorf("%w: writes go to the leader", ErrFollower)
	}
	return nil
}

// RollingHash returns the rolling state hash and the LSN it covers. It is
// kept only by a bus with a Replicator or a follower (else ErrInvalidOption).
//
// What it proves: the sum, mod 2^64, over every page of
// xxhash64(page ID, size, epoch, bytes). Two buses with equal rolling
// hashes at the same LSN hold, with overwhelming probability, the same set
// of pages with the same sizes, epochs and bytes (metadata, flags, edges and
// bindings are not covered; StateHash covers the same fields). It is
// maintained incrementally from the pages each record touches, so a page
// changed outside the log is noticed when a record next writes that page,
// or by VerifyRollingHash, which recomputes it from every page.
func (e *Bus) RollingHash() (uint64, LSN, error) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	if e.closed {
		return 0, 0, ErrClosed
	}
	if e.rh == nil {
		return 0, 0, fmt.Errorf("%w: the rolling hash is kept only with a Replicator or as a follower", ErrInvalidOption)
	}
	return e.rh.sum, e.lastLSN, nil
}

// VerifyRollingHash recomputes the rolling hash from every page and
// compares it with the incrementally maintained one: a difference means a
// page changed outside the log (memory corruption). The bus then fails with
// ErrReplicaDiverged. Cost: one hash of the whole state.
func (e *Bus) VerifyRollingHash() error {
	e.lockSettled()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if e.rh == nil {
		return fmt.Errorf("%w: the rolling hash is kept only with a Replicator or as a follower", ErrInvalidOption)
	}
	if full := e.fullRollingHash(nil); full != e.rh.sum {
		return e.fail(fmt.Errorf("%w: at LSN %d the pages hash to %#x, the rolling hash says %#x (a page changed outside the log)", ErrReplicaDiverged, e.lastLSN, full, e.rh.sum))
	}
	return nil
}

// ApplyReplicated applies a leader's record on a follower
// (Options.Follower): rec must continue the follower's log exactly
// (FirstLSN = LastLSN()+1; a gap or a duplicate is refused with
// ErrReplicaOrder and nothing changes). Its operations are applied
// exactly as recovery applies the same record read from a log, so the
// follower reaches the state the leader had after it, and the record is
// then appended to the follower's own log. Every operation is checked
// before any is applied: a record that does not apply (or that no leader
// writes: a control op among others, a delta to a page the same record
// creates) fails the bus with ErrReplicaDiverged and changes nothing, in
// memory or in the log, so the failed bus's reads show the state before
// it. Then the rolling hash is compared with rec.StateHash: a mismatch
// fails the bus with ErrReplicaDiverged. It returns once the record is
// logged and applied; the local log syncs in the background (the stream
// is the durable copy), and Flush waits for it.
// A nil rec is ErrInvalidOption.
func (e *Bus) ApplyReplicated(ctx context.Context, rec *ReplicatedRecord) error {
	if err := checkCtx(ctx, "Bus.ApplyReplicated"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec == nil {
		// Checked before the lock: a nil record dereferenced under it
		// panicked with the bus's lock held, and every later call hung.
		return fmt.Errorf("%w: ApplyReplicated: nil record", ErrInvalidOption)
	}
	e.lockSettled()
	if err := e.usable(); err != nil {
		e.mu.Unlock()
		return err
	}
	if !e.opts.Follower {
		e.mu.Unlock()
		return fmt.Errorf("%w: ApplyReplicated needs a bus opened with Options.Follower", ErrInvalidOption)
	}
	if err := e.checkReplicaOrder(rec); err != nil {
		e.mu.Unlock()
		return err
	}
	// The size first: a record the log refuses must not be decoded, nor
	// have its creates' room reserved (which would stay mapped).
	if err := e.checkRecordBytes(len(rec.Payload)); err != nil {
		e.mu.Unlock()
		return err
	}
	n := rec.LastLSN - rec.FirstLSN + 1
	r := tlog.Record{FirstLSN: rec.FirstLSN, Count: uint32(n), Payload: rec.Payload, File: "replicated record", Offset: 0}
	ops, err := e.decodeRecord(&r, &e.rh.dec)
	if err != nil {
		e.mu.Unlock()
		return fmt.Errorf("%w: LSN %d..%d: %w", ErrReplication, rec.FirstLSN, rec.LastLSN, err)
	}
	first := rec.FirstLSN
	// Every op is checked before any is applied: a record that does not
	// apply (a delta past its page, a page that does not exist: a buggy
	// or hostile leader, or a follower whose state differs) changes
	// nothing, so reads of the failed bus show whole records, as after any
	// other failure. Applied op by op, its first ops stayed in memory.
	// (The creates' room first: a record whose creates cannot have it, or
	// have sizes no page has, is refused without failing the bus.)
	if err := e.reserveReplicatedCreates(ops); err != nil {
		e.mu.Unlock()
		return err
	}
	if i, err := e.checkReplicatedOps(ops); err != nil {
		err = e.fail(fmt.Errorf("%w: replicated record LSN %d..%d: the op at LSN %d does not apply (nothing of the record is applied or logged): %w",
			ErrReplicaDiverged, rec.FirstLSN, rec.LastLSN, first+LSN(i), err))
		e.mu.Unlock()
		return err
	}
	// Applied before it is logged: a record that does not apply must not
	// reach the follower's log. Logged first, it stayed there, and every
	// later Open of the directory stopped on it as log corruption ("op at
	// LSN N does not apply"), so the node could not even restart.
	if replicatedCheckedHook != nil {
		replicatedCheckedHook(ops)
	}
	if i, err := e.applyOps(ops, first, e.rh.dec.Time); err != nil {
		if plainDeltas(ops) {
			// Not checked above: applyOps checks a run of plain
			// deltas whole before it applies any (applyDeltaRun).
			err = e.fail(fmt.Errorf("%w: replicated record LSN %d..%d: the op at LSN %d does not apply (nothing of the record is applied or logged): %w",
				ErrReplicaDiverged, rec.FirstLSN, rec.LastLSN, first+LSN(i), err))
			e.mu.Unlock()
			return err
		}
		// partlyApplied: the failed bus's reads of page bytes return
		// this failure, not pages holding part of the record. Until
		// 2026-12-07 they served the ops before the failing one as
		// the follower's state (TestFollowerPartlyAppliedRecordReadsRefused).
		err = e.fail(partlyApplied(fmt.Errorf("%w: replicated record LSN %d..%d: the op at LSN %d does not apply although it was checked (the record is not logged; the ops before it are applied in memory only): %w",
			ErrReplicaDiverged, rec.FirstLSN, rec.LastLSN, first+LSN(i), err)))
		e.mu.Unlock()
		return err
	}
	if e.log != nil {
		// Applied, not logged: a failure here fails the bus, and a
		// follower reopened recovers the logged prefix and takes the
		// record from the stream again.
		if _, err := e.log.Append(first, uint32(n), rec.Payload); err != nil {
			err = e.fail(fmt.Errorf("%w: replicated record LSN %d..%d applied but not logged: %w", ErrReplication, rec.FirstLSN, rec.LastLSN, err))
			e.mu.Unlock()
			return err
		}
	}
	e.wakeLSNWaiters()
	e.store.PublishLSN(uint64(rec.LastLSN))
	e.stampCommit(first, rec.LastLSN, e.rh.dec.Time)
	e.rollOps(ops)
	if e.rh.sum != rec.StateHash {
		err = e.fail(fmt.Errorf("%w: after LSN %d the follower's rolling hash is %#x, the leader's %#x", ErrReplicaDiverged, rec.LastLSN, e.rh.sum, rec.StateHash))
		e.mu.Unlock()
		return err
	}
	e.mu.Unlock()
	// The stream holds the record: the follower's own log is synced by the
	// background flusher, not waited for (a follower that crashes recovers
	// a prefix and resumes from the stream). Waiting here would cost one
	// fsync per record in series.
	e.log.Kick()
	e.maybeCheckpoint()
	return nil
}

// replicatedCheckedHook, set by tests, runs in ApplyReplicated once every
// op of the record passed checkReplicatedOps, before any is applied (to
// make one fail there, as a defect in those checks would).
var replicatedCheckedHook func(ops []record.Op)

// checkReplicatedOps checks every op of a replicated record against the
// follower's state before any is applied, with the checks the leader ran
// before it logged them (checkDelta as Commit and ValidateBatch run it,
// CheckEpoch counting the earlier deltas to the page in the record;
// checkCreate as CreatePages), and returns the index of the first op that
// would not apply. The leader writes three shapes of record: the deltas of
// a Commit, the derived deltas, flags and wave op of a propagation wave, and the
// creates of a CreatePages; every other op (a free, an edge, a binding, a
// metadata change) is a record of its own. Ops of those shapes do not
// depend on one another beyond the CheckEpoch count and distinct created
// IDs, so the state before the record decides each exactly. A record of
// another shape (a delta or flags for a page the same record creates, a
// control op among others) comes from no leader and is refused here too:
// its ops would depend on one another. A control op alone is left to
// applyOp, which checks it before it changes anything. Caller holds e.mu.
func (e *Bus) checkReplicatedOps(ops []record.Op) (int, error) {
	if plainDeltas(ops) {
		// A Commit's record without CheckEpoch: applyOps checks the
		// whole run before it applies any (applyDeltaRun), so checking
		// here would only repeat it on the follower's hot path.
		// TestFollowerRecordThatDoesNotApplyChangesNothing holds it to
		// that.
		return 0, nil
	}
	var pending map[PageID]Epoch    // deltas to a page earlier in the record, once a CheckEpoch needs them
	var created map[PageID]struct{} // pages the record creates
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case record.OpDelta, record.OpDerived:
			id := op.Delta.Page
			if _, ok := created[id]; ok {
				return i, fmt.Errorf("%w: delta for page %d, which the same record creates (no leader writes such a record)", ErrInvalidDelta, id)
			}
			var p Epoch
			if op.Delta.CheckEpoch && pending == nil {
				pending = map[PageID]Epoch{}
				for j := range ops[:i] {
					if k := ops[j].Kind; k == record.OpDelta || k == record.OpDerived {
						pending[ops[j].Delta.Page]++
					}
				}
			}
			if pending != nil {
				p = pending[id]
			}
			if _, err := e.checkDelta(&op.Delta, p); err != nil {
				return i, err
			}
			if pending != nil {
				pending[id]++
			}
		case record.OpSetFlags:
			if _, ok := created[op.Page]; ok {
				return i, fmt.Errorf("%w: flags for page %d, which the same record creates (no leader writes such a record)", ErrInvalidPage, op.Page)
			}
			if _, ok := e.store.Lookup(op.Page); !ok {
				return i, fmt.Errorf("%w: page %d", ErrPageNotFound, op.Page)
			}
		case record.OpCreatePage:
			if _, ok := created[op.Page]; ok {
				return i, fmt.Errorf("%w: page %d is created twice in the record", ErrPageExists, op.Page)
			}
			if err := e.checkCreate(op.Page, op.Size, op.Location, op.Meta); err != nil {
				return i, err
			}
			if len(ops) > 1 {
				if created == nil {
					created = map[PageID]struct{}{}
				}
				created[op.Page] = struct{}{}
			}
		case record.OpWave:
			// Ends a wave's record: it names pages that exist before the
			// record (no leader's wave creates or frees a page), so the
			// state before the record decides it too.
			if err := e.checkWave(op); err != nil {
				return i, err
			}
		default:
			if len(ops) > 1 {
				return i, fmt.Errorf("a %v op in a record of %d ops (the leader logs each such op as a record of its own)", op.Kind, len(ops))
			}
		}
	}
	return 0, nil
}

// plainDeltas reports whether every op is a delta without CheckEpoch.
func plainDeltas(ops []record.Op) bool {
	for i := range ops {
		if ops[i].Kind != record.OpDelta || ops[i].Delta.CheckEpoch {
			return false
		}
	}
	return true
}

// reserveReplicatedCreates reserves the room a replicated record's
// creates take before the follower logs it, as CreatePages does on the
// leader: a create the follower logged and then could not apply would fail
// it (ErrReplicaDiverged), where a follower without room should refuse the
// record with ErrNoSpace and take it again once there is room. Frees in
// the same record are not counted against it (the reservation may map a
// chunk too many, which later creates use). Caller holds e.mu.
func (e *Bus) reserveReplicatedCreates(ops []record.Op) error {
	k := 0
	for i := range ops {
		if ops[i].Kind == record.OpCreatePage {
			k++
		}
	}
	if k == 0 {
		return nil
	}
	sizes := make([]int, 0, k)
	for i := range ops {
		if ops[i].Kind == record.OpCreatePage {
			sizes = append(sizes, int(ops[i].Size))
		}
	}
	if err := e.store.ReserveCreates(k, func(i int) int { return sizes[i] }); err != nil {
		if errors.Is(err, page.ErrNoSpace) {
			return fmt.Errorf("%w: a replicated record of %d creates: %w", ErrNoSpace, k, err)
		}
		return fmt.Errorf("%w: %w", ErrReplication, err)
	}
	return nil
}

// checkReplicaOrder refuses a record that does not continue the log.
func (e *Bus) checkReplicaOrder(rec *ReplicatedRecord) error {
	switch {
	case rec.LastLSN < rec.FirstLSN || rec.FirstLSN == 0:
		return fmt.Errorf("%w: invalid LSN range %d..%d", ErrReplicaOrder, rec.FirstLSN, rec.LastLSN)
	case rec.LastLSN-rec.FirstLSN >= 1<<32-1:
		return fmt.Errorf("%w: LSN range %d..%d holds more operations than a record can", ErrReplicaOrder, rec.FirstLSN, rec.LastLSN)
	case rec.FirstLSN <= e.lastLSN:
		return fmt.Errorf("%w: duplicate: record LSN %d..%d, the follower is already at LSN %d", ErrReplicaOrder, rec.FirstLSN, rec.LastLSN, e.lastLSN)
	case rec.FirstLSN != e.lastLSN+1:
		return fmt.Errorf("%w: gap: record starts at LSN %d, the follower is at LSN %d", ErrReplicaOrder, rec.FirstLSN, e.lastLSN)
	}
	return nil
}
