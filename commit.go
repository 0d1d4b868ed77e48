package mmsb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// CommitInfo describes a committed batch.
type CommitInfo struct {
	FirstLSN LSN   // LSN of the batch's first operation
	LastLSN  LSN   // LSN of its last operation
	Time     int64 // commit time stamped on every operation
}

// PageSpec describes a page to create.
type PageSpec struct {
	ID       PageID      // 0: assign the next free ID
	Size     int         // bytes, 1..MaxPageSize, else ErrInvalidPage
	Location Location    // CPU (the zero value); GPU and Unified are ErrInvalidPage
	Meta     []MetaEntry // initial metadata, logged with the creation
}

// Commit validates ds as one batch and, if every delta is valid, logs it as
// one record (contiguous LSNs, in slice order) and applies it: all deltas
// apply or none. It fills each delta's LSN, Epoch and Time. It returns once
// the batch is durable per the sync mode. ctx is checked before the batch is
// logged; once logged, Commit waits for its durability regardless.
//
// A derived page (Bind) may be written like any other: the write is
// logged, stands, and its own children are recomputed from it, until a
// wave recomputes the page from its parents: after a parent changes, or
// at the first wave of a tick orchestrator, which recomputes every derived
// page unless SkipStartupResync (ExampleBus_Bind_directWrite). Unbind it
// to keep what is written.
//
// Errors: ErrPageNotFound, ErrInvalidDelta (wrapping the delta package's
// reason, e.g. ErrOutOfRange; an empty batch too: no LSN would name it,
// see CreatePages), ErrConflict,
// ErrRecordTooLarge (the batch's record would pass the log's 256 MiB:
// commit smaller batches), ErrCheckpointFailing, ErrFollower (a follower
// bus: writes go to the leader), ErrClosed, ErrFailed. A batch
// that was logged and applied but then failed to become durable or to
// replicate (ErrFailed, with ErrReplication for the latter) is named by
// the CommitInfo returned with the error; it may be present after a
// restart. So is a batch logged and then not applied because an earlier
// batch's pipelined apply failed beside it (ErrFailed, saying the batch
// was logged): it is in the log, and a retry would apply it twice.
// Otherwise the CommitInfo is zero and the batch was not applied:
// absent after a restart, unless the error is ErrFailed from the batch's
// own log write or fsync (sync always and none write the record in the
// call), whose record may have reached the file: such a batch may be
// present after a restart, though this bus never applied it.
//
// The panics of the code the bus is given that a commit calls
// (Options.Clock, the Replicator, the log's vfs.FS and its segment files)
// are errors (a checkpoint's files are not: their panics go on to the
// caller of Checkpoint, or end an automatic checkpoint's goroutine). A
// panic out of the bus's own code while it commits (a defect) fails the
// bus, as a failed write does (ErrFailed naming the panic: the batch may
// be partly applied, and present after a restart), releases its lock,
// and goes on to the caller; later calls return ErrFailed (reads of page
// bytes too: see ReadPage), and Close works.
func (e *Bus) Commit(ctx context.Context, ds []Delta) (CommitInfo, error) {
	if err := checkCtx(ctx, "Bus.Commit"); err != nil {
		return CommitInfo{}, err
	}
	start := time.Now()
	info, t, err := e.commitDeltas(ctx, ds)
	if err != nil {
		return info, err
	}
	info, err = e.finishCommit(ctx, t, info)
	if err == nil {
		e.met.commitNanos.Observe(int64(time.Since(start)))
	}
	return info, err
}

// CommitAsync is Commit without the wait for durability: when it returns
// the batch is validated, logged (buffered or written, per the sync mode)
// and applied, visible to readers, and an fsync covering it has been
// requested in the background. Call WaitDurable(ctx, info.LastLSN) before
// treating it as acknowledged. Keeping a few batches in flight lets one
// goroutine overlap building the next batch with the fsync of the last.
func (e *Bus) CommitAsync(ctx context.Context, ds []Delta) (CommitInfo, error) {
	if err := checkCtx(ctx, "Bus.CommitAsync"); err != nil {
		return CommitInfo{}, err
	}
	info, _, err := e.commitDeltas(ctx, ds)
	if err != nil {
		return info, err
	}
	if e.log != nil {
		e.log.Kick()
	}
	e.maybeCheckpoint()
	return info, nil
}

// WaitDurable waits until every operation up to lsn is durable per the sync
// mode (an fsync covers it, for group and always; written to the OS, for
// none). A failed fsync fails the bus (sticky) and is returned. An lsn
// after the last committed one is ErrInvalidOption: nothing could make it
// durable (WaitLSN waits for operations to come).
func (e *Bus) WaitDurable(ctx context.Context, lsn LSN) error {
	if err := checkCtx(ctx, "Bus.WaitDurable"); err != nil {
		return err
	}
	// No page bytes are read here: a pipelined apply still running is left
	// to run beside the wait (rlockSettled would wait for it).
	e.mu.RLock()
	closed, last := e.closed, e.lastLSN
	e.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if lsn > last {
		// The log's flush would fsync over and over waiting for it.
		return fmt.Errorf("%w: LSN %d was not committed (the last committed LSN is %d)", ErrInvalidOption, lsn, last)
	}
	if e.log == nil {
		return nil
	}
	if err := e.log.Wait(ctx, tlog.Ticket{LSN: lsn}); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		e.lockSettled()
		err = e.fail(err)
		e.mu.Unlock()
		return err
	}
	return e.waitReplicated(ctx, lsn)
}

// commitDeltas validates, logs and applies a batch; the caller waits for
// durability (or not).
func (e *Bus) commitDeltas(ctx context.Context, ds []delta.Delta) (CommitInfo, tlog.Ticket, error) {
	if len(ds) == 0 {
		return CommitInfo{}, tlog.Ticket{}, fmt.Errorf("%w: empty batch", ErrInvalidDelta)
	}
	if err := ctx.Err(); err != nil {
		return CommitInfo{}, tlog.Ticket{}, err
	}
	info, t, ckpt, err := e.commitDeltasLocked(ds)
	if ckpt {
		e.startCheckpoint()
	}
	if err != nil {
		return info, t, err
	}
	e.met.commits.Add(1)
	e.met.deltas.Add(uint64(len(ds)))
	return info, t, nil
}

// commitDeltasLocked is commitDeltas under e.mu, which it takes and
// releases, a panic included (see failPanicked). ckpt asks the caller to
// start a checkpoint (the log's growth bound refused the batch).
func (e *Bus) commitDeltasLocked(ds []delta.Delta) (info CommitInfo, t tlog.Ticket, ckpt bool, err error) {
	e.mu.Lock()
	// The one deferred call of a commit: on the normal path it only
	// unlocks (recover returns nil at once).
	defer func() {
		if v := recover(); v != nil {
			e.failPanicked("Commit", v)
			e.mu.Unlock()
			panic(v)
		}
		e.mu.Unlock()
	}()
	if err := e.writable(); err != nil {
		return CommitInfo{}, tlog.Ticket{}, false, err
	}
	if err := e.logBoundErr(); err != nil {
		return CommitInfo{}, tlog.Ticket{}, true, err
	}
	now, err := e.commitClock()
	if err != nil {
		return CommitInfo{}, tlog.Ticket{}, false, err
	}
	// A pipelined batch (canPipeline) is checked by the committer alone
	// while a helper applies the previous one, and a helper copies its
	// bytes into the pages while the caller builds the next: the caller
	// then never writes a delta that the other core has read, which on
	// a machine whose cores sit far apart cost more than the helper's
	// share of the checks saved (docs/benchmarks.md).
	pipelined := e.canPipeline(len(ds))
	buf := record.AppendHeader(e.buf[:0], now)
	buf, slots, err := e.checkAndEncode(buf, ds, pipelined)
	e.keepBuf(buf)
	if err != nil {
		return CommitInfo{}, tlog.Ticket{}, false, err
	}
	if e.applier.failed.Load() {
		// A pipelined apply failed (an undecodable record, a panic in its
		// drain): the bus fails before this batch is logged. Found by the
		// settle below, after the append, the batch was refused with
		// ErrFailed and held by the reopened bus
		// (TestDrainFailedNextCommitNotLogged). A drain that fails from
		// here on, beside this commit, is found there still: the batch is
		// logged by then, and the commit says so (loggedNotApplied).
		if err := e.settle(); err != nil {
			return CommitInfo{}, tlog.Ticket{}, false, err
		}
	}
	t, first, err := e.appendLocked(uint32(len(ds)), buf)
	if err != nil {
		return CommitInfo{}, tlog.Ticket{}, false, err
	}
	// A pipelined batch: the committer stamps pages and deltas now; a
	// helper copies the bytes of the batch's head while the committer
	// copies its tail, and goes on with the head while the caller builds
	// its next batch. Every reader of page bytes settles the job first
	// (rlockSettled). Batches still waiting for the helper are settled
	// here unless this one can wait behind them (canQueue).
	tail := len(ds)
	if pipelined {
		tail = e.applier.stampSplit(e, ds, slots, first, now)
		e.applier.adaptShare()
	}
	if !pipelined || !e.applier.canQueue(e, len(buf), first+LSN(max(tail, e.historyFrom(len(ds)))), first+LSN(len(ds))) {
		if err := e.settle(); err != nil {
			info, err = e.loggedNotApplied(first, len(ds), now, err)
			return info, tlog.Ticket{}, false, err
		}
	}
	if pipelined {
		if pipelinedPushHook != nil {
			pipelinedPushHook()
		}
		if err := e.applier.applyPipelined(e, buf, first, e.historyFrom(len(ds)), tail); err != nil {
			err = e.fail(partlyApplied(fmt.Errorf("pipelined apply of a logged batch: %w", err)))
			info, err = e.loggedNotApplied(first, len(ds), now, err)
			return info, tlog.Ticket{}, false, err
		}
		e.applier.applyTail(e, ds, slots, first, tail)
		if e.graphHasEdges {
			for i := range ds {
				e.markDirty(ds[i].Page)
			}
		}
	} else {
		e.applyBatch(ds, slots, first, now)
	}
	last := first + LSN(len(ds)) - 1
	e.lastLSN, e.lastTime = last, now
	e.store.PublishLSN(uint64(last))
	if invariants.Enabled {
		e.assertBatchApplied(ds, slots, first)
	}
	e.stampCommit(first, last, now)
	info = CommitInfo{FirstLSN: first, LastLSN: last, Time: now}
	if err := e.replicateLocked(first, last, buf); err != nil {
		// Logged and applied: the info says so, as for a failed fsync.
		return info, tlog.Ticket{}, false, err
	}
	return info, t, false, nil
}

// pipelinedPushHook, set by tests, runs in a pipelined commit once the
// batch is logged and may queue (canQueue), before applyPipelined pushes
// it: a drain that fails there is found by applyPipelined
// (TestDrainFailedBeforePushSaysLogged). One load of a global a pipelined
// batch, which holds at least parallelMin deltas.
var pipelinedPushHook func()

// failPanicked fails the bus for a panic with value v out of op's
// critical section: the bus's own code, a defect (the code a caller gives
// the bus, its Clock, Replicator, recompute functions and vfs.FS, has its
// panics turned into errors where it is called). The operations may be
// half applied (pages written and the log not, or the reverse), so the
// bus fails as for a failed write: sticky ErrFailed naming the panic. The
// caller, a deferred function that recovered the panic, then releases
// e.mu and panics again with v: the panic reaches the caller of the bus
// (with its stack: the frames that panicked are still below), and every
// later call returns the failure instead of waiting for ever for a lock
// that nothing would release (TestCommitPanicFailsBus). Caller holds e.mu
// exclusively.
func (e *Bus) failPanicked(op string, v any) {
	const what = "%s panicked under the bus's lock (what it was doing may be partly applied): "
	// The failure is partlyApplied: the failed bus's own reads of page
	// bytes return it (pagesErr), and fail marks a shared region closed
	// (closeRegionIfPartial), so that its readers are told at once
	// (ErrWriterGone), also of a page whose sequence word a panic between
	// BeginWrite and EndWrite left odd for good, instead of waiting
	// WriterTimeout on it (TestSharedPanicMidWriteTellsReaders,
	// TestSharedCommitPanicThenEveryCall).
	if err, ok := v.(error); ok {
		_ = e.fail(partlyApplied(fmt.Errorf(what+"%w", op, err)))
		return
	}
	_ = e.fail(partlyApplied(fmt.Errorf(what+"%v", op, v)))
}

// pagesPartial marks a failure after which the pages may hold part of a
// batch (see partlyApplied). Its message is its cause's.
type pagesPartial struct{ error }

func (p *pagesPartial) Unwrap() error { return p.error }

// partlyApplied marks err, the cause of the bus's failure, as one that may
// have left part of a batch in the pages: a panic under the bus's lock
// (failPanicked), a pipelined apply that failed (settle), logged
// operations that did not apply. Reads of page bytes then return the
// failure instead of those bytes (pagesErr), and a shared region's readers
// are told the writer is gone (closeRegionIfPartial). A bus failed
// otherwise (a log write or fsync, a Replicator) holds whole batches and
// serves them, to its readers too.
func partlyApplied(err error) error { return &pagesPartial{err} }

// loggedNotApplied is the answer of a commit whose batch of n operations
// was logged from LSN first, stamped now, and then not applied in full
// because the bus failed (err, ErrFailed): a pipelined apply of an earlier
// batch failed beside it, after the commit's own check, or (a defect)
// logged control operations did not decode or apply (commitOpsLocked,
// TestLoggedOpNotApplyingSaysLogged: its zero CommitInfo said the same
// until 2026-12-07, and CreatePages returned no IDs). The batch is in the log
// (LastLSN counts it, and WaitDurable makes it durable) and a restart
// replays it once durable (operations that do not apply fail the replay
// as they failed here: Open reports the log corrupt): the CommitInfo
// names it, as it names a batch logged and applied whose fsync failed,
// and the error says so, that a caller does not commit it again. It was
// reported ErrFailed with a zero CommitInfo, which means "not applied,
// absent after a restart" (TestDrainFailedBesideCommitSaysLogged). A bus
// without a log (DisableLog) gave the batch its LSNs all the same. Caller
// holds e.mu exclusively.
func (e *Bus) loggedNotApplied(first LSN, n int, now int64, err error) (CommitInfo, error) {
	last := first + LSN(n) - 1
	e.lastLSN, e.lastTime = last, now
	info := CommitInfo{FirstLSN: first, LastLSN: last, Time: now}
	if e.log == nil {
		return info, fmt.Errorf("%w (the batch took LSNs %d-%d before the failure was found, and was not applied in full: do not commit it again)", err, first, last)
	}
	return info, fmt.Errorf("%w (the batch was logged as LSNs %d-%d before the failure was found, and not applied in full: the log holds it, do not commit it again)", err, first, last)
}

// checkAndEncode validates every delta of a batch and appends its encoding
// to buf, in one pass (the deltas are hot in cache once), and records the
// batch in the write-history ring. A batch that is not pipelined, when
// large, is split into contiguous chunks validated and encoded by the
// apply workers in parallel, then concatenated in batch order. A
// pipelined batch is checked here alone, and its history is recorded by
// the helper that applies it (applyWrites), off the committer's path.
// Caller holds e.mu.
func (e *Bus) checkAndEncode(buf []byte, ds []delta.Delta, pipelined bool) ([]byte, []page.Slot, error) {
	slots := e.slotsFor(len(ds))
	first := e.lastLSN + 1
	histFrom := e.historyFrom(len(ds))
	if pipelined {
		histFrom = len(ds)
		e.applier.recOffs = slices.Grow(e.applier.recOffs[:0], len(ds))[:len(ds)]
	} else if e.applier.historyOverlaps(e, first+LSN(len(ds))) {
		// The history entries about to be written here would land in
		// ring slots that a pipelined apply still running writes.
		if err := e.settle(); err != nil {
			return buf, nil, err
		}
	}
	if !pipelined && e.applier.workers > 1 && len(ds) >= parallelMin {
		// A CheckEpoch delta needs the batch's earlier deltas counted in
		// order: the workers stop at one and the batch is checked below
		// (scanning for it first was a serial pass over every delta).
		out, sl, err := e.applier.checkAndEncode(e, buf, ds, slots, first, histFrom)
		if !errors.Is(err, errSerialCheck) {
			return out, sl, err
		}
	}
	// Pass 1 only looks the pages up: a short loop body lets the CPU keep
	// many independent cache misses (one per random page) in flight, which
	// the full check below, with its long body, cannot.
	e.sink = e.lookupSlots(ds, slots)
	var pending map[PageID]Epoch
	for i := range ds {
		d := &ds[i]
		var p Epoch
		if d.CheckEpoch {
			if pending == nil {
				pending = e.batchEpochCounts(ds[:i])
			}
			p = pending[d.Page]
		}
		sl, err := e.checkDeltaAt(d, slots[i], p)
		if err != nil {
			return buf, nil, fmt.Errorf("batch delta %d: %w", i, err)
		}
		if pending != nil {
			pending[d.Page]++
		}
		slots[i] = sl
		if pipelined {
			e.applier.recOffs[i] = int32(len(buf))
		}
		if buf, err = appendDeltaBounded(buf, d, i); err != nil {
			return buf, nil, err
		}
		if i >= histFrom {
			// Recorded before the batch is logged and applied. A batch
			// refused after this (a later delta's check, the record limit:
			// the bus goes on) leaves entries for LSNs past LastLSN, which
			// no reader looks at (provenance starts from a page's last
			// write) and which the operations that take those LSNs
			// overwrite, each recording its own; a failed log write or
			// apply fails the bus (sticky).
			e.recordHistory(first+LSN(i), d, false)
		}
	}
	return buf, slots, nil
}

// noSlot marks a page that lookupSlots did not find.
const noSlot page.Slot = -1

// lookupSlots fills slots with each delta's page slot (noSlot if absent)
// and touches each slot's size, warming the cache for the check pass. It
// returns a sum of the sizes for the caller to keep (so the loads stay).
func (e *Bus) lookupSlots(ds []delta.Delta, slots []page.Slot) int {
	for i := range ds {
		sl, ok := e.store.Lookup(ds[i].Page)
		if !ok {
			sl = noSlot
		}
		slots[i] = sl
	}
	var sink int
	for _, sl := range slots {
		if sl != noSlot {
			sink += e.store.Size(sl)
		}
	}
	return sink
}

// batchEpochCounts counts deltas per page in a batch prefix, so that a
// CheckEpoch delta after others to the same page expects their epochs.
func (e *Bus) batchEpochCounts(prefix []delta.Delta) map[PageID]Epoch {
	m := make(map[PageID]Epoch)
	for i := range prefix {
		m[prefix[i].Page]++
	}
	return m
}

// maxKeptBuf is the largest encoding buffer a bus keeps between commits.
// A larger one (a batch of hundreds of MiB, or one refused as too large)
// is dropped after its commit, or the bus would hold it for its life.
const maxKeptBuf = 16 << 20

// keepBuf keeps a commit's encoding buffer for the next commit, unless
// it is larger than maxKeptBuf. Caller holds e.mu.
func (e *Bus) keepBuf(buf []byte) {
	if cap(buf) > maxKeptBuf {
		buf = nil
	}
	e.buf = buf
}

// slotsFor returns a buffer for the page slots of a batch of n deltas:
// the bus's own, kept from batch to batch, or, for a batch of more than
// maxKeptOffsets deltas, one that goes with the batch. The bus kept
// whatever the largest batch needed, for its life: 50 MB after one batch
// of 10M deltas (TestHugeBatchBuffersNotKept). Caller holds e.mu.
func (e *Bus) slotsFor(n int) []page.Slot {
	if n > maxKeptOffsets {
		return make([]page.Slot, n)
	}
	if cap(e.slots) < n {
		e.slots = make([]page.Slot, n, min(n+n/4, maxKeptOffsets))
	}
	return e.slots[:n]
}

// appendDeltaBounded appends the encoding of d, batch delta i, to buf,
// or refuses it once buf would pass the log's record limit. It stops at
// the delta that passes the limit rather than encode the rest of a batch
// the log will refuse (a caller's batch of gigabytes would otherwise be
// copied whole first), and checks Intent and Source, the fields no page
// size bounds, before copying them (one of hundreds of MiB is refused
// without a copy).
func appendDeltaBounded(buf []byte, d *delta.Delta, i int) ([]byte, error) {
	if n := len(buf) + len(d.Intent) + len(d.Source); n > tlog.MaxRecordBytes {
		return buf, recordTooLargeAt(n, i)
	}
	buf = record.AppendDelta(buf, d)
	if len(buf) > tlog.MaxRecordBytes {
		return buf, recordTooLargeAt(len(buf), i)
	}
	return buf, nil
}

// recordTooLargeAt is the refusal of a batch whose encoding passed the
// log's record limit at delta i, before the rest was encoded.
func recordTooLargeAt(encoded, i int) error {
	return fmt.Errorf("%w: more than %d bytes by batch delta %d, a log record holds at most %d (commit smaller batches)", ErrRecordTooLarge, encoded, i, tlog.MaxRecordBytes)
}

// appendLocked appends a record holding n operations. Caller holds e.mu.
// A record too large for the log or the Replicator is refused first
// (ErrRecordTooLarge, not sticky: nothing was logged), then one the
// Replicator says it cannot replicate now (ErrReplication, not sticky):
// every record is logged here, so Ready is asked once per record.
func (e *Bus) appendLocked(n uint32, payload []byte) (tlog.Ticket, LSN, error) {
	if err := e.checkRecordBytes(len(payload)); err != nil {
		return tlog.Ticket{}, 0, err
	}
	if err := e.checkReplicatorReady(); err != nil {
		return tlog.Ticket{}, 0, err
	}
	first := e.lastLSN + 1
	if e.log == nil {
		e.wakeLSNWaiters()
		return tlog.Ticket{}, first, nil
	}
	t, err := e.log.Append(first, n, payload)
	if err != nil {
		return t, 0, e.fail(err)
	}
	e.wakeLSNWaiters()
	return t, first, nil
}

// finishCommit waits for durability, then runs automatic checkpoints. Once
// a record is logged and applied, its commit is not abandoned: the wait
// ignores ctx (a cancelled context must not report "failed" for a batch
// that is applied and will be durable). Contexts are checked before logging.
func (e *Bus) finishCommit(_ context.Context, t tlog.Ticket, info CommitInfo) (CommitInfo, error) {
	if e.log != nil {
		if err := e.log.Wait(context.Background(), t); err != nil {
			e.lockSettled()
			err = e.fail(err)
			e.mu.Unlock()
			return info, err
		}
	}
	if err := e.waitReplicated(context.Background(), info.LastLSN); err != nil {
		return info, err
	}
	e.maybeCheckpoint()
	return info, nil
}

// canPipeline reports whether a batch of n deltas gets a pipelined apply:
// with several workers, a helper copies its bytes into the pages after
// Commit returns. Not while a checkpoint keeps copies of overwritten bytes,
// in shared memory (readers in other processes do not settle), with a
// Replicator (its state hash reads the pages at commit), or with the
// invariant checks (they read the pages back at commit). Caller holds e.mu.
func (e *Bus) canPipeline(n int) bool {
	return e.applier.workers > 1 && n >= parallelMin && !e.shared && e.cow == nil &&
		e.opts.Replicator == nil && !invariants.Enabled
}

// settle finishes a pipelined apply still running, so that page bytes are
// current. If that apply failed, the bus fails (sticky) and the error is
// returned. Caller holds e.mu exclusively.
func (e *Bus) settle() error {
	p := e.applier
	if p.current {
		p.finish()
	}
	p.dropLargeRing()
	if err := p.applyErr; err != nil {
		p.applyErr = nil
		return e.fail(partlyApplied(fmt.Errorf("pipelined apply of a logged batch: %w", err)))
	}
	return nil
}

// commitOps logs and applies n control operations encoded by encode, after
// check accepted them. Live control operations go through applyOp, the same
// code that recovery uses.
//
//nolint:unparam // the LSN range of control operations is kept for the network API to report
func (e *Bus) commitOps(ctx context.Context, n int, check func() error, encode func([]byte) []byte) (CommitInfo, error) {
	if err := ctx.Err(); err != nil {
		return CommitInfo{}, err
	}
	info, t, ckpt, err := e.commitOpsLocked(n, check, encode)
	if ckpt {
		e.startCheckpoint()
	}
	if err != nil {
		return info, err
	}
	return e.finishCommit(ctx, t, info)
}

// commitOpsLocked is commitOps under e.mu, which it takes (settled) and
// releases, a panic included (see failPanicked). ckpt asks the caller to
// start a checkpoint (the log's growth bound refused the operations).
func (e *Bus) commitOpsLocked(n int, check func() error, encode func([]byte) []byte) (info CommitInfo, t tlog.Ticket, ckpt bool, err error) {
	e.lockSettled()
	defer func() {
		if v := recover(); v != nil {
			e.failPanicked("a control operation", v)
			e.mu.Unlock()
			panic(v)
		}
		e.mu.Unlock()
	}()
	if err := e.writable(); err != nil {
		return CommitInfo{}, tlog.Ticket{}, false, err
	}
	if err := e.logBoundErr(); err != nil {
		return CommitInfo{}, tlog.Ticket{}, true, err
	}
	if err := check(); err != nil {
		return CommitInfo{}, tlog.Ticket{}, false, err
	}
	now, err := e.commitClock()
	if err != nil {
		return CommitInfo{}, tlog.Ticket{}, false, err
	}
	buf := encode(record.AppendHeader(e.buf[:0], now))
	e.keepBuf(buf)
	t, first, err := e.appendLocked(uint32(n), buf)
	if err != nil {
		return CommitInfo{}, tlog.Ticket{}, false, err
	}
	var dec record.Decoder
	var op record.Op
	if err := dec.Reset(buf); err != nil {
		// Logged, and nothing of it applied: a defect in encode.
		info, err = e.loggedNotApplied(first, n, now, e.fail(fmt.Errorf("logged control operations do not decode: %w", err)))
		return info, tlog.Ticket{}, false, err
	}
	for i := 0; i < n; i++ {
		if err == nil {
			err = dec.Next(&op)
		}
		if err == nil {
			err = e.applyOp(&op, first+LSN(i), now)
		}
		if err != nil {
			// The record is logged but does not apply: the checks above
			// missed something. Refuse further writes rather than diverge.
			err = e.fail(partlyApplied(fmt.Errorf("logged op %d does not apply: %w", i, err)))
			info, err = e.loggedNotApplied(first, n, now, err)
			return info, tlog.Ticket{}, false, err
		}
	}
	last := first + LSN(n) - 1
	e.store.PublishLSN(uint64(last))
	e.stampCommit(first, last, now)
	info = CommitInfo{FirstLSN: first, LastLSN: last, Time: now}
	if err := e.replicateLocked(first, last, buf); err != nil {
		return info, tlog.Ticket{}, false, err
	}
	return info, t, false, nil
}

// CreatePage creates one page and returns its ID (with the error too
// when the create was logged and applied and then failed: see
// CreatePages).
func (e *Bus) CreatePage(ctx context.Context, spec PageSpec) (PageID, error) {
	if err := checkCtx(ctx, "Bus.CreatePage"); err != nil {
		return 0, err
	}
	ids, err := e.CreatePages(ctx, []PageSpec{spec})
	if len(ids) == 0 {
		return 0, err
	}
	return ids[0], err
}

// CreatePages creates pages in one logged batch (all or none) and returns
// their IDs. Specs with ID 0 get the next free IDs, in order, above the
// largest ID used so far: once a page with ID math.MaxUint64 has been
// created, none is left, and a spec with ID 0 is ErrInvalidPage.
//
// The memory the pages need (and, in shared mode, its tmpfs space) is
// reserved before the batch is logged: a batch that does not fit is
// refused whole with ErrNoSpace, nothing is logged, and the bus goes on.
//
// A batch logged and applied whose fsync or replication then failed
// (ErrFailed) returns its IDs with the error, as Commit returns its
// CommitInfo: the pages exist. So does a batch logged and then not applied
// in full (ErrFailed saying so: a defect), which the log holds. On any
// other error the IDs are nil; after
// an ErrFailed whose cause is the batch's own log write or fsync (sync
// always and none write the record in the call) the pages were not
// created, but the record may have reached the file, so they may exist
// after a restart.
//
// No specs (nil or empty) is no batch: nothing is checked or logged, and
// the answer is no IDs and no error, even on a closed bus. Commit refuses
// an empty batch instead (ErrInvalidDelta) because its CommitInfo would
// have to name LSNs that no operation holds; CreatePages' answer, one ID
// per spec, is complete when empty. The server refuses both empty requests.
//
// A batch whose record would pass the log's limit (256 MiB: metadata
// adds up) is refused with ErrRecordTooLarge, measured from the specs
// before their metadata is encoded; nothing is logged.
//
// Errors: ErrPageExists, ErrInvalidPage, ErrNoSpace, ErrRecordTooLarge,
// ErrClosed, ErrFailed.
func (e *Bus) CreatePages(ctx context.Context, specs []PageSpec) ([]PageID, error) {
	if err := checkCtx(ctx, "Bus.CreatePages"); err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, nil
	}
	ids := make([]PageID, len(specs))
	var metas [][]byte // only when some spec has metadata
	for _, s := range specs {
		if len(s.Meta) > 0 {
			metas = make([][]byte, len(specs))
			break
		}
	}
	reserved := false // room reserved in the store (check got to its end)
	metaOf := func(i int) []byte {
		if metas == nil {
			return nil
		}
		return metas[i]
	}
	check := func() error {
		next := e.nextID
		// Explicit IDs may collide with each other or with auto IDs; the
		// set is only built when there are explicit IDs.
		var seen map[PageID]struct{}
		// A lower bound on the batch's record: its operations, and the
		// smallest header (the log's exact check follows the encoding).
		recBytes := int64(minHeaderBytes)
		for _, s := range specs {
			if s.ID != 0 {
				seen = make(map[PageID]struct{}, len(specs))
				break
			}
		}
		for i, s := range specs {
			id := s.ID
			if id == 0 {
				for {
					if next == 0 {
						// The IDs above the largest in use ran out (it was
						// given explicitly): the next one would wrap to 0.
						return fmt.Errorf("%w: spec %d: no page ID left to assign above page %d (give IDs explicitly)", ErrInvalidPage, i, uint64(math.MaxUint64))
					}
					if _, ok := e.store.Lookup(next); !ok {
						if _, dup := seen[next]; !dup && (seen == nil || !explicitLater(specs[i+1:], next)) {
							break
						}
					}
					next++
				}
				id = next
				next++
			}
			if seen != nil {
				if _, dup := seen[id]; dup {
					return fmt.Errorf("%w: page %d twice in one batch", ErrPageExists, id)
				}
				seen[id] = struct{}{}
			}
			if s.Size < 0 || s.Size > base.MaxPageSize {
				return fmt.Errorf("%w: page %d size %d (want 1..%d)", ErrInvalidPage, id, s.Size, base.MaxPageSize)
			}
			// The metadata is measured here and encoded below, once the
			// batch's record is known to fit: encoded first, a batch of
			// 2^24 specs of 64 KiB each made a terabyte of copies before
			// the log refused it (an out-of-memory crash, not an error).
			if err := e.checkCreate(id, uint32(s.Size), base.Location(s.Location), nil); err != nil {
				return err
			}
			ml := metaBytes(s.Meta)
			if ml > page.MaxMetaBytes {
				return fmt.Errorf("%w: page %d metadata %d bytes exceeds %d", ErrInvalidPage, id, ml, page.MaxMetaBytes)
			}
			if recBytes += createOpBytes(id, s.Size, ml); recBytes > tlog.MaxRecordBytes {
				return fmt.Errorf("%w: more than %d bytes by spec %d, a log record holds at most %d (create fewer pages per call)", ErrRecordTooLarge, recBytes, i, tlog.MaxRecordBytes)
			}
			ids[i] = id
		}
		for i, m := range metas {
			if m = page.AppendMeta(m[:0], metaIn(specs[i].Meta)); len(m) > 0 {
				if _, err := page.DecodeMeta(m); err != nil {
					return fmt.Errorf("%w: page %d metadata: %w", ErrInvalidPage, ids[i], err)
				}
			}
			metas[i] = m
		}
		// Last, once the batch is valid: the room its apply needs
		// (slots, page memory, tmpfs space), so that a create logged
		// below cannot fail to apply for lack of it, which would fail
		// the bus. Refused, it logs nothing and the bus goes on.
		if err := e.store.ReserveCreates(len(specs), func(i int) int { return specs[i].Size }); err != nil {
			if errors.Is(err, page.ErrNoSpace) {
				return fmt.Errorf("%w: a batch of %d creates: %w", ErrNoSpace, len(specs), err)
			}
			return fmt.Errorf("%w: %w", ErrInvalidPage, err)
		}
		reserved = true
		return nil
	}
	encode := func(buf []byte) []byte {
		for i, s := range specs {
			buf = record.AppendCreate(buf, ids[i], uint32(s.Size), base.Location(s.Location), metaOf(i))
		}
		return buf
	}
	if info, err := e.commitOps(ctx, len(specs), check, encode); err != nil {
		if info.FirstLSN != 0 {
			// Logged and applied, then the fsync or the replication
			// failed: the pages exist (readers see them), and a caller
			// told nothing would create them again. Or logged and not
			// applied in full (a defect: loggedNotApplied): the log
			// holds the creates, and the error says so.
			return ids, err
		}
		if reserved {
			// Reserved, then refused before it was logged (e.g.
			// ErrRecordTooLarge): give the memory back. (Whatever else
			// failed, what is still spare holds no page.)
			e.lockSettled()
			if !e.closed {
				_ = e.store.ReleaseReserved()
			}
			e.mu.Unlock()
		}
		return nil, err
	}
	e.reserveCheckpointScratch()
	return ids, nil
}

// minHeaderBytes is the smallest record header (record.AppendHeader: the
// format version and a one-byte time varint).
const minHeaderBytes = 2

// metaBytes is the length of page.AppendMeta's encoding of ms, measured
// without encoding it (in int64: a list that repeats one large value can
// pass 2 GiB where int has 32 bits).
func metaBytes(ms []MetaEntry) int64 {
	if len(ms) == 0 {
		return 0
	}
	n := int64(4) // the count
	for _, m := range ms {
		n += 8 + int64(len(m.Key)) + int64(len(m.Value))
	}
	return n
}

// createOpBytes is the length of record.AppendCreate's encoding of the
// creation of page id of the given size with metaLen bytes of encoded
// metadata.
func createOpBytes(id PageID, size int, metaLen int64) int64 {
	var b [binary.MaxVarintLen64]byte
	return 1 + int64(binary.PutUvarint(b[:], uint64(id))) + int64(binary.PutUvarint(b[:], uint64(size))) +
		1 + int64(binary.PutUvarint(b[:], uint64(metaLen))) + metaLen
}

// FreePage frees a page. A page with dependency edges or a binding is
// refused with ErrPageInUse, so that no derived page silently loses a
// parent: a parent of derived pages names their bindings (the first 16 and
// how many; Unbind them: RemoveEdge refuses a binding's edges), a derived
// page says to Unbind it, and other edges are removed with RemoveEdge or
// RemoveEdges.
func (e *Bus) FreePage(ctx context.Context, id PageID) error {
	if err := checkCtx(ctx, "Bus.FreePage"); err != nil {
		return err
	}
	check := func() error {
		if err := e.checkFreeBindings(id); err != nil {
			return err
		}
		return e.checkFree(id)
	}
	_, err := e.commitOps(ctx, 1, check, func(b []byte) []byte { return record.AppendFree(b, id) })
	return err
}

// checkFreeBindings refuses freeing a page that bindings hold, naming
// them: checkFree said "remove its edges first", and RemoveEdge then
// refused the edge as the binding's (unbind instead). A binding's parents
// are exactly the Data edges into its page (checkDataEdgeOwner).
func (e *Bus) checkFreeBindings(id PageID) error {
	if _, ok := e.bindings[id]; ok {
		return fmt.Errorf("%w: page %d is derived (Unbind(%d) first)", ErrPageInUse, id, id)
	}
	// AppendChildren sorts by child, so a child's edges are adjacent: a
	// look at the last one found dedups (a scan of held was quadratic in
	// the page's bindings), and the list comes in page order, bounded by
	// shownIDs (10,000 bindings made a 60 KB error).
	var held []PageID
	for _, ed := range e.graph.AppendChildren(nil, id) {
		if _, ok := e.bindings[ed.Child]; ok && ed.Type == base.EdgeData && (len(held) == 0 || held[len(held)-1] != ed.Child) {
			held = append(held, ed.Child)
		}
	}
	if len(held) > 0 {
		return fmt.Errorf("%w: page %d is a parent in the binding of page(s) %s (Unbind them first)", ErrPageInUse, id, shownIDs(held))
	}
	return nil
}

// SetMetadata replaces a page's key/value metadata (logged). Entries keep
// the order given; a key given twice keeps its first place and its last
// value (so does PageSpec.Meta); no entries (nil or empty) clears it, a
// logged operation as any other. Errors: ErrPageNotFound, ErrInvalidPage
// (more than 64 KiB of encoded metadata), ErrClosed, ErrFailed.
func (e *Bus) SetMetadata(ctx context.Context, id PageID, entries []MetaEntry) error {
	if err := checkCtx(ctx, "Bus.SetMetadata"); err != nil {
		return err
	}
	meta := page.AppendMeta(nil, metaIn(entries))
	check := func() error {
		if _, ok := e.store.Lookup(id); !ok {
			return fmt.Errorf("%w: page %d", ErrPageNotFound, id)
		}
		if len(meta) > page.MaxMetaBytes {
			return fmt.Errorf("%w: page %d metadata %d bytes exceeds %d", ErrInvalidPage, id, len(meta), page.MaxMetaBytes)
		}
		return nil
	}
	_, err := e.commitOps(ctx, 1, check, func(b []byte) []byte { return record.AppendSetMeta(b, id, meta) })
	return err
}

// AddEdge adds a dependency edge parent -> child. An edge that would close
// a cycle is refused with an error wrapping ErrCycle that names the
// cycle; nothing is logged.
//
// Errors: ErrPageNotFound (parent or child), ErrInvalidOption (typ is not
// an edge type), ErrCycle (a page to itself too), ErrPageInUse (a Data
// edge into a derived page from a page that is not one of its binding's
// parents: Bind owns those edges), ErrClosed, ErrFailed.
func (e *Bus) AddEdge(ctx context.Context, parent, child PageID, typ EdgeType) error {
	if err := checkCtx(ctx, "Bus.AddEdge"); err != nil {
		return err
	}
	check := func() error {
		if err := e.checkEdgeEnds(parent, child, uint8(typ)); err != nil {
			return err
		}
		added, err := e.graph.AddEdge(parent, child, base.EdgeType(typ))
		if err != nil {
			return err
		}
		if added {
			e.graph.RemoveEdge(parent, child, base.EdgeType(typ)) // applyOp adds it for real
		}
		return e.checkDataEdgeOwner(parent, child, uint8(typ))
	}
	_, err := e.commitOps(ctx, 1, check, func(b []byte) []byte {
		return record.AppendEdge(b, record.OpAddEdge, parent, child, uint8(typ))
	})
	return err
}

// RemoveEdge removes parent -> child of type typ (logged); no such edge,
// even between pages that do not exist, is no error. typ AllEdgeTypes
// removes the edges of every type, as RemoveEdges does (the operation
// logged is the same). Errors: ErrPageInUse (the Data edge of a binding:
// Unbind instead), ErrInvalidOption (typ is neither an edge type nor
// AllEdgeTypes), ErrClosed, ErrFailed.
func (e *Bus) RemoveEdge(ctx context.Context, parent, child PageID, typ EdgeType) error {
	if err := checkCtx(ctx, "Bus.RemoveEdge"); err != nil {
		return err
	}
	_, err := e.commitOps(ctx, 1, func() error { return e.checkRemoveEdge(parent, child, uint8(typ)) },
		func(b []byte) []byte { return record.AppendEdge(b, record.OpRemoveEdge, parent, child, uint8(typ)) })
	return err
}

// RemoveEdges removes every edge parent -> child, of any type (logged);
// no such edge is no error. Errors: ErrPageInUse (the Data edge of a
// binding: Unbind instead), ErrClosed, ErrFailed.
func (e *Bus) RemoveEdges(ctx context.Context, parent, child PageID) error {
	if err := checkCtx(ctx, "Bus.RemoveEdges"); err != nil {
		return err
	}
	_, err := e.commitOps(ctx, 1, func() error { return e.checkRemoveEdge(parent, child, record.AllEdgeTypes) },
		func(b []byte) []byte {
			return record.AppendEdge(b, record.OpRemoveEdge, parent, child, record.AllEdgeTypes)
		})
	return err
}

func (e *Bus) checkRemoveEdge(parent, child PageID, typ uint8) error {
	if typ != record.AllEdgeTypes && typ >= base.NumEdgeTypes {
		return fmt.Errorf("%w: unknown edge type %d", ErrInvalidOption, typ)
	}
	// A Data edge into a derived page is its binding's (see
	// checkDataEdgeOwner): one probe instead of a scan of the parents.
	if _, ok := e.bindings[child]; ok && (typ == record.AllEdgeTypes || typ == uint8(base.EdgeData)) &&
		e.graph.HasEdge(parent, child, base.EdgeData) {
		return fmt.Errorf("%w: data edge %d -> %d belongs to the binding of page %d (unbind instead)", ErrPageInUse, parent, child, child)
	}
	return nil
}

// Bind makes child a derived page: child = fn(parents..., params),
// recomputed by propagation whenever a parent changes. It adds the Data
// edges parent -> child (refusing cycles) and is logged; a Data edge from
// a parent that child already had (AddEdge) is adopted: the binding owns
// it, and Unbind removes it. The next wave
// computes child (Pending counts it) and raises no flag for it; a bus
// recovered from a checkpoint or log that holds the binding, not yet
// computed, computes it at its first wave too. A write to child (Commit)
// stands until a wave recomputes it: see Commit.
//
// Errors: ErrUnknownFunc (fn not registered: Options.Functions),
// ErrPageNotFound (child or a parent), ErrInvalidOption (no parents, or
// a built-in function that cannot compute child's size from these
// parents' sizes and params), ErrPageInUse (child already bound),
// ErrCycle, ErrRecordTooLarge (params too large for one log record or
// the Replicator's message), ErrClosed, ErrFailed.
func (e *Bus) Bind(ctx context.Context, child PageID, fn string, params []byte, parents []PageID) error {
	if err := checkCtx(ctx, "Bus.Bind"); err != nil {
		return err
	}
	check := func() error {
		if _, ok := e.funcs[fn]; !ok {
			return fmt.Errorf("%w: %q (binding page %d)", ErrUnknownFunc, fn, child)
		}
		if err := e.checkRecordBytes(len(params)); err != nil {
			// Before the record is encoded: params of hundreds of MiB
			// would be copied only to be refused.
			return fmt.Errorf("binding page %d: params: %w", child, err)
		}
		if err := e.checkBuiltinShape(child, fn, params, parents); err != nil {
			return err
		}
		return e.checkBind(child, parents, true)
	}
	// Applied through applyOp, which makes the next wave compute the new
	// page (markRecompute). It marked parents[0] dirty until 2026-12-06:
	// that parent then counted as written, and its Control, GPU-sync and
	// Compiler children had their flags raised for nothing.
	_, err := e.commitOps(ctx, 1, check, func(b []byte) []byte { return record.AppendBind(b, child, fn, params, parents) })
	return err
}

// checkBuiltinShape refuses a binding that a built-in function (one the
// options did not replace) can never compute: its params, its number of
// parents or the pages' sizes do not fit the function (f64.sum with
// params, passthrough of two parents, a float page of 10 bytes). Such a
// binding would fail every wave: its page and all its descendants would
// never be computed (before partial waves it stopped every propagation of
// the bus, the others' too). Refused at Bind, the mistake is named where it
// is made. The function is run once on zero bytes of the pages' sizes, which every
// built-in accepts as values: what it refuses is the shape. Pages that do
// not exist are left to checkBind.
func (e *Bus) checkBuiltinShape(child PageID, fn string, params []byte, parents []PageID) error {
	f, ok := semiring.Lookup(fn)
	if !ok || e.opts.Functions[fn] != nil {
		return nil
	}
	sl, ok := e.store.Lookup(child)
	if !ok {
		return nil
	}
	sizes := make([]int, len(parents))
	largest := 0
	for i, p := range parents {
		psl, ok := e.store.Lookup(p)
		if !ok {
			return nil
		}
		sizes[i] = e.store.Size(psl)
		largest = max(largest, sizes[i])
	}
	zero := make([]byte, largest)
	inputs := make([][]byte, len(parents))
	for i, n := range sizes {
		inputs[i] = zero[:n:n]
	}
	if err := f(inputs, params, make([]byte, e.store.Size(sl))); err != nil {
		return fmt.Errorf("%w: %q cannot compute page %d (%d bytes) from %d parent(s) and %d bytes of params: %w",
			ErrInvalidOption, fn, child, e.store.Size(sl), len(parents), len(params), err)
	}
	return nil
}

// Unbind removes child's binding and its Data edges, those Bind adopted
// (added with AddEdge before it) included; the page keeps its bytes and
// its edges of other types. Errors: ErrNotDerived (child is not bound, or does not exist),
// ErrClosed, ErrFailed.
func (e *Bus) Unbind(ctx context.Context, child PageID) error {
	if err := checkCtx(ctx, "Bus.Unbind"); err != nil {
		return err
	}
	check := func() error {
		if _, ok := e.bindings[child]; !ok {
			return fmt.Errorf("%w: page %d", ErrNotDerived, child)
		}
		return nil
	}
	_, err := e.commitOps(ctx, 1, check, func(b []byte) []byte { return record.AppendUnbind(b, child) })
	return err
}

// ClearFlags clears the given flag bits on a page (logged). Errors:
// ErrPageNotFound, ErrClosed, ErrFailed.
func (e *Bus) ClearFlags(ctx context.Context, id PageID, mask uint8) error {
	if err := checkCtx(ctx, "Bus.ClearFlags"); err != nil {
		return err
	}
	var nf uint8
	check := func() error {
		if _, ok := e.store.Lookup(id); !ok {
			return fmt.Errorf("%w: page %d", ErrPageNotFound, id)
		}
		nf = e.flags[id] &^ mask
		return nil
	}
	_, err := e.commitOps(ctx, 1, check, func(b []byte) []byte { return record.AppendFlags(b, id, nf) })
	return err
}

// maybeCheckpoint takes an automatic checkpoint when the log has grown by
// CheckpointBytes or CheckpointInterval has passed since the last one (or,
// after a failure, since that failure).
func (e *Bus) maybeCheckpoint() {
	if e.log == nil || !e.autoCheckpoints() || e.ckptRunning.Load() {
		return
	}
	grown := e.log.Stats().Bytes - max(e.lastCkptBytes.Load(), e.ckptRetryBytes.Load())
	due := e.opts.CheckpointBytes > 0 && grown >= uint64(e.opts.CheckpointBytes)
	if !due && e.opts.CheckpointInterval > 0 {
		last := max(e.lastCkptTime.Load(), e.ckptRetryTime.Load())
		due = time.Since(time.Unix(0, last)) >= e.opts.CheckpointInterval
	}
	if due {
		e.startCheckpoint()
	}
}

// startCheckpoint starts an automatic checkpoint in the background unless
// one is running or the bus is closing. Commits (and this committer) go on
// while it is written (copy on write, see Checkpoint); Close stops it and
// waits for it to end (cancelOnClose).
// A failure is counted (Stats) and retried later (noteCheckpointFailure); a
// failed fsync has already made the bus fail.
func (e *Bus) startCheckpoint() {
	if e.log == nil || !e.ckptRunning.CompareAndSwap(false, true) {
		return
	}
	e.ckptStartMu.Lock()
	if e.closing {
		e.ckptStartMu.Unlock()
		e.ckptRunning.Store(false)
		return
	}
	e.ckptWG.Add(1)
	e.ckptStartMu.Unlock()
	go func() {
		defer e.ckptWG.Done()
		defer e.ckptRunning.Store(false)
		_, _ = e.Checkpoint(context.Background()) // counted by Checkpoint itself
	}()
}

// explicitLater reports whether a later spec of the batch asks for id
// explicitly (an auto-assigned ID must not take it). Linear, but only
// reached for batches mixing explicit and automatic IDs.
func explicitLater(specs []PageSpec, id PageID) bool {
	for _, s := range specs {
		if s.ID == id {
			return true
		}
	}
	return false
}

// commitClock returns the time to stamp on a commit: the injected clock,
// but never earlier than the previous commit, so that commit times never
// decrease along the log (time-based replay and queries rely on it).
// Caller holds e.mu. A panic of the injected clock is returned as an error
// wrapping ErrInvalidOption: it left e.mu locked, and every later call of
// the bus, Close too, hung (recompute functions' panics are recovered as
// well).
func (e *Bus) commitClock() (now int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			now, err = 0, fmt.Errorf("%w: Options.Clock panicked: %v", ErrInvalidOption, r)
		}
	}()
	now = e.clock()
	if now < e.lastTime {
		now = e.lastTime
	}
	return now, nil
}

// assertBatchApplied checks (invariants builds only) what a committed batch
// promises: LSNs contiguous in batch order, each delta's epoch advanced by
// one over the previous delta to its page, and the page ending at the last
// of them.
func (e *Bus) assertBatchApplied(ds []delta.Delta, slots []page.Slot, first LSN) {
	last := map[page.Slot]Epoch{}
	for i := range ds {
		d := &ds[i]
		if d.LSN != first+LSN(i) {
			panic(fmt.Sprintf("invariants: delta %d has LSN %d, want %d", i, d.LSN, first+LSN(i)))
		}
		if prev, ok := last[slots[i]]; ok && d.Epoch != prev+1 {
			panic(fmt.Sprintf("invariants: delta %d to page %d has epoch %d after %d", i, d.Page, d.Epoch, prev))
		}
		last[slots[i]] = d.Epoch
	}
	for sl, ep := range last {
		if got := e.store.Epoch(sl); got != ep {
			panic(fmt.Sprintf("invariants: page %d at epoch %d, its last delta says %d", e.store.ID(sl), got, ep))
		}
	}
}
