package mmsb

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// PropagationSource is the Source label of every delta written by
// propagation.
const PropagationSource = "propagation"

// RecomputeError reports a recompute function that failed (returned an
// error or panicked, or is not registered) during propagation.
// errors.Is(err, ErrRecompute) holds, and errors.Is/As also reach the
// function's own error.
//
// The wave that returns it is partial: the failing pages and their Data-edge
// descendants were held back (not computed), the rest of the wave was
// logged and applied. HeldBack and Failures say how much was held back;
// this error is the first failure in the wave's topological order.
type RecomputeError struct {
	Page PageID // the derived page being recomputed
	Func string // the function bound to it
	Err  error  // what the function returned (or the recovered panic)

	// HeldBack counts the derived pages the wave held back: the pages
	// whose function failed and every bound page that depends on one of
	// them. The next wave recomputes them.
	HeldBack int
	// Failures counts the recompute functions that failed in the wave.
	Failures int
}

// Error names the page, the function and its error, and for a partial
// wave how many functions failed and how many pages were held back.
func (e *RecomputeError) Error() string {
	msg := fmt.Sprintf("%v: page %d, function %q: %v", ErrRecompute, e.Page, e.Func, e.Err)
	switch {
	case e.HeldBack == 0: // not from a wave's result
		return msg
	case e.Failures > 1:
		return fmt.Sprintf("%s (partial wave: %d functions failed, %s held back)", msg, e.Failures, pagesWord(e.HeldBack))
	}
	return fmt.Sprintf("%s (partial wave: %s held back)", msg, pagesWord(e.HeldBack))
}

func pagesWord(n int) string {
	if n == 1 {
		return "1 page"
	}
	return fmt.Sprintf("%d pages", n)
}

// Unwrap returns ErrRecompute and the function's error.
func (e *RecomputeError) Unwrap() []error { return []error{ErrRecompute, e.Err} }

// PageWrite is one derived delta of a propagation wave.
type PageWrite struct {
	Page  PageID
	LSN   LSN
	Epoch Epoch // the page's epoch after the write
}

// FlagRaise is one flag change of a propagation wave: Raised holds the bits
// that were newly set, Flags the page's flags afterwards.
type FlagRaise struct {
	Page   PageID
	LSN    LSN
	Raised uint8
	Flags  uint8
}

// PropagateResult describes one propagation wave. Writes and Flags are in
// LSN order, Failed in the wave's topological order; PropagateInto reuses
// their capacity.
type PropagateResult struct {
	Roots      int         // dirty pages the wave started from
	Visited    int         // Data-edge descendants considered
	Recomputed int         // derived pages recomputed: functions called, a call that failed or panicked included (a result kept from the wave's stale try counts once); a page whose function is missing or whose parent is gone is not called, and is only in Failed
	Cutoffs    int         // recomputes whose output was unchanged (the wave stopped there)
	FirstLSN   LSN         // first LSN of the wave's record (0: nothing logged)
	LastLSN    LSN         // last LSN of the wave's record (its wave op, record.OpWave, unless too large: see PropagateInto)
	Writes     []PageWrite // derived deltas, one per changed derived page
	Flags      []FlagRaise // flag changes raised by Control, GPU-sync and Compiler edges
	HeldBack   int         // derived pages held back by failed functions (see RecomputeError)
	Failed     []PageID    // pages whose recompute function failed
}

func (r *PropagateResult) reset() {
	*r = PropagateResult{Writes: r.Writes[:0], Flags: r.Flags[:0], Failed: r.Failed[:0]}
}

// waveOut is one changed derived page of the wave being computed.
type waveOut struct {
	page    PageID
	slot    page.Slot
	off, n  int // new bytes: arena[off:off+n]
	readsLo int // reads[readsLo:readsHi] are its parent reads
	readsHi int
	own     LSN         // the page's last-write LSN when its bytes were copied
	fresh   bool        // computed by a call in this pass, not kept from the stale try
	d       delta.Delta // its Runs alias arena; capacity reused across waves
}

// waveCut is a derived page a wave computed without the lock recomputed
// to its own bytes (a cutoff): what a wave computed again needs to keep
// that result (see keptResult).
type waveCut struct {
	page             PageID
	own              LSN
	readsLo, readsHi int
}

// flagOp is a flag change of the wave.
type flagOp struct {
	page  PageID
	old   uint8
	flags uint8
}

// propagator is the reusable scratch of propagation waves; it lives on the
// Bus and belongs to the wave that holds e.waveMu (its fields that Pending
// reads, retry and resync, change only with e.mu held too).
type propagator struct {
	dataOnly [base.NumEdgeTypes]bool
	order    []PageID
	overlay  map[PageID]int32 // changed derived page -> index in outs
	outs     []waveOut
	arena    []byte
	inputs   [][]byte
	inCopy   []byte // private copies of the inputs of the function being called
	outCopy  []byte // the out of the function being called (copied into arena after the call)
	params   []byte // private copy of the params of the function being called
	reads    []record.ParentRead
	flagAdd  map[PageID]uint8
	flagIDs  []PageID
	flagOps  []flagOp
	edges    []graph.Edge
	buf      []byte
	roots    []PageID // traversal roots (scratch)
	flagOnly [base.NumEdgeTypes]bool
	flagScan []PageID
	resync   bool // recompute every derived page at the next wave

	// A wave computed without the lock (unlocked) checks at each step
	// that no control operation ran since it was planned (gen, the bus's
	// ctrlGen then), and once done that the pages it read (checks) still
	// have the last-write LSNs it read.
	unlocked bool
	gen      uint64
	checks   []waveCheck
	stale    bool // a step read a parent written since the plan (and skipped its call)
	calls    int  // recompute functions called in this pass
	cuts     []waveCut
	// A wave computed again under the lock keeps the results of its stale
	// try whose inputs did not change (keep, keptResult): the try's outs,
	// arena, reads and cuts are swapped into these, indexed by kept.
	keep      bool
	kept      map[PageID]int32 // page -> index in keptOuts, or -1-index in keptCuts
	keptOuts  []waveOut
	keptArena []byte
	keptReads []record.ParentRead
	keptCuts  []waveCut
	keptFirst LSN // the try's planned first LSN: its reads at or past it are of its own pages
	// After a wave went stale and most of it had to be computed again,
	// the next lockedLeft waves are computed under the lock (backoff,
	// doubling while it keeps happening; see computeWave).
	lockedLeft, backoff int
	// inCall is set while a recompute function runs: still set when
	// PropagateInto returns, the function ended the goroutine
	// (releaseAfterGoexit).
	inCall bool
	// outside is set while a wave computed without the lock does not
	// hold e.mu exclusively, and shared while it holds it shared (enter):
	// what a panic out of the bus's own code releases (releaseAfterPanic).
	outside, shared bool

	// A failed recompute holds back its page and the page's Data-edge
	// descendants (heldSet, bound and unbound; held lists the bound ones
	// in wave order). Once the wave is applied they become retry/retrySet:
	// the next wave recomputes them whether or not a parent changed (their
	// parents may have changed in this wave, and a parent recomputed
	// unchanged next time would cut the wave off above them).
	heldSet  map[PageID]struct{}
	held     []PageID
	retrySet map[PageID]struct{}
	retry    []PageID

	// The wave op's page sets (sorted scratch): the dirty set and the
	// retry set after the wave (see logsSets).
	waveDirty, waveHeld []PageID
}

func newPropagator() *propagator {
	p := &propagator{
		overlay: map[PageID]int32{}, flagAdd: map[PageID]uint8{}, kept: map[PageID]int32{},
		heldSet: map[PageID]struct{}{}, retrySet: map[PageID]struct{}{},
	}
	p.dataOnly[base.EdgeData] = true
	p.flagOnly[base.EdgeControl] = true
	p.flagOnly[base.EdgeGPUSync] = true
	p.flagOnly[base.EdgeCompiler] = true
	return p
}

// edgeFlag returns the flag a non-data edge type raises on its child.
func edgeFlag(t base.EdgeType) uint8 {
	switch t {
	case base.EdgeControl:
		return FlagStale
	case base.EdgeGPUSync:
		return FlagSyncPending
	case base.EdgeCompiler:
		return FlagIRInvalid
	}
	return 0
}

// Pending returns how many pages wait for propagation: dirty pages (written
// since the last wave and having dependency edges), derived pages bound and
// not yet computed, and derived pages the last wave held back because a
// recompute function failed. It reads counts kept as those sets change
// (it does not walk them): a metrics scrape calls it, and commits wait
// for it.
func (e *Bus) Pending() int {
	e.rlockSettled()
	defer e.mu.RUnlock()
	return len(e.dirty) + e.pendingExtra
}

// waitsBeyondDirty reports whether Pending counts page id beyond the dirty
// set: a derived page, not dirty, that the next wave computes whatever its
// parents do (listed in e.recompute or in the retry set). Caller holds
// e.mu.
func (e *Bus) waitsBeyondDirty(id PageID) bool {
	if _, bound := e.bindings[id]; !bound {
		return false
	}
	if _, dirty := e.dirtySet[id]; dirty {
		return false
	}
	if _, listed := e.recomputeSet[id]; listed {
		return true
	}
	if e.prop != nil {
		_, retry := e.prop.retrySet[id]
		return retry
	}
	return false
}

// adjustPending updates e.pendingExtra after a change that concerned page
// id alone; waited is waitsBeyondDirty(id) before the change. Caller holds
// e.mu exclusively.
func (e *Bus) adjustPending(id PageID, waited bool) {
	switch waits := e.waitsBeyondDirty(id); {
	case waits && !waited:
		e.pendingExtra++
	case waited && !waits:
		e.pendingExtra--
	}
}

// recountPending sets e.pendingExtra from the sets, after a change to many
// pages at once (the end of a wave, a logged wave op, a checkpoint load):
// those already walk the sets. A count over a map's keys does not depend
// on their order. Caller holds e.mu exclusively.
func (e *Bus) recountPending() {
	n := 0
	for _, id := range e.recompute {
		if e.waitsBeyondDirty(id) {
			n++
		}
	}
	if e.prop != nil {
		for id := range e.prop.retrySet {
			if _, listed := e.recomputeSet[id]; !listed && e.waitsBeyondDirty(id) {
				n++
			}
		}
	}
	e.pendingExtra = n
}

// ScheduleResync makes the next propagation wave recompute every derived
// page (with early cutoff, so a page already up to date costs one function
// call and logs nothing). Unlike a write, it raises no flags. The
// orchestrator calls it when it starts: checkpoints keep the dirty and
// retry sets, and each wave's record in the log tail ends with the sets it
// left (record.OpWave), so a restart waits for exactly what the bus did;
// a log written before OpWave existed is replayed conservatively (the
// pages it wrote dirty, those it bound to compute), and functions
// registered since may compute differently: this brings every derived
// page up to date whatever the log says.
//
// Behind a running wave it waits for it to end, or for Close: on a bus
// closed meanwhile it does nothing.
func (e *Bus) ScheduleResync() {
	// A wave running clears resync when it ends.
	if e.lockWave(context.Background()) != nil {
		return // closed
	}
	defer e.unlockWave()
	e.lockSettled()
	defer e.mu.Unlock()
	if e.prop == nil {
		e.prop = newPropagator()
	}
	e.prop.resync = len(e.bindings) > 0
}

// Propagate runs one propagation wave: see PropagateInto.
func (e *Bus) Propagate(ctx context.Context) (PropagateResult, error) {
	if err := checkCtx(ctx, "Bus.Propagate"); err != nil {
		return PropagateResult{}, err
	}
	var r PropagateResult
	err := e.PropagateInto(ctx, &r)
	return r, err
}

// PropagateInto runs one propagation wave over the pages written since the
// last wave (the dirty set) and the pages the last wave held back, filling
// r (whose slices are reused; a nil r is ErrInvalidOption).
//
// The wave takes the Data-edge descendants of the dirty pages in
// deterministic topological order (ties by page ID) and recomputes each
// derived page at most once, and only if one of its binding parents was
// dirty or changed earlier in this wave (early cutoff: an unchanged output
// stops the wave below it). A recompute calls the bound function with
// private copies of the parents' current bytes (including bytes computed
// earlier in the wave), the binding's params, and a scratch copy of the
// page's bytes as out; the difference becomes a derived delta (Source
// "propagation") logged as record.OpDerived with the parents' last-write
// LSNs. Control, GPU-sync and Compiler edges from a dirty or changed page
// set FlagStale, FlagSyncPending or FlagIRInvalid on their child
// (OpSetFlags, only when a bit actually changes).
//
// The whole wave is computed first, then logged as one record (derived ops
// in topological order, then flag ops in page order, then a wave op naming
// the dirty and retry sets the wave leaves, which recovery and followers
// apply), then applied. A wave that writes nothing logs a record of its
// wave op alone if it consumed dirty pages or changed the retry set. A wave
// op that would make the record too large (ErrRecordTooLarge) is left out:
// recovery and followers treat that record as a log of before OpWave.
//
// A function that fails (error, panic, or not registered) holds back its
// page and every page that depends on it through Data edges: they are not
// computed, and the next wave recomputes them. The rest of the wave is
// computed with the same inputs, logged and applied as above, so one
// failing function does not stop the others. The error is then the
// *RecomputeError of the first failure in topological order (errors.Is
// ErrRecompute), saying how many pages were held back; r reports what was
// committed, r.HeldBack and r.Failed what was not. A wave interrupted by
// ctx, or refused by the log (ErrRecordTooLarge) or by the Replicator's
// Ready (ErrReplication, not sticky), applies nothing and keeps the dirty
// set (TestReplicatorReadyAskedOncePerWave); interrupted by ctx, r counts in Recomputed the pages it
// computed before (the functions it called) and lists in Failed those
// whose function failed, holding nothing back: every page stays pending. It returns once the record is durable per the sync mode.
//
// Recompute functions run without the engine's lock: commits, reads and
// queries go on while a wave computes (one slow function does not stop
// them). Each step of the wave reads the state under the lock, and the
// wave is logged only if nothing it read changed meanwhile (no page it
// read was written, no page, edge or binding was added or removed);
// otherwise it is computed again with the lock held throughout, calling
// only the functions whose inputs changed (the other results are kept). Pages
// written while the wave computed stay dirty for the next wave. Either
// way the wave logged is the one a wave over a state of the bus computes.
// Functions must be pure and must not call the engine (the second
// computation holds its lock). One wave runs at a time: a call that
// finds another wave running waits for it only until its ctx ends
// (returning ctx.Err(), r empty) or the bus closes (ErrClosed).
//
// A panic out of the bus's own code in a wave (a defect) releases the
// bus's lock and goes on to the caller; where the wave held the lock
// exclusively (applying it, or computing it under the lock) the bus
// fails first (ErrFailed naming the panic), as for one in Commit.
func (e *Bus) PropagateInto(ctx context.Context, r *PropagateResult) error {
	if err := checkCtx(ctx, "Bus.PropagateInto"); err != nil {
		return err
	}
	if r == nil {
		// Refused before the wave: a nil result panicked in its reset.
		return fmt.Errorf("%w: PropagateInto: nil *PropagateResult", ErrInvalidOption)
	}
	if err := e.lockWave(ctx); err != nil {
		r.reset()
		return err
	}
	defer e.unlockWave()
	r.reset()
	t, info, logged, ckpt, waveErr, err := e.propagateLocked(ctx, r)
	if ckpt {
		e.startCheckpoint()
	}
	if err != nil {
		return err
	}
	if !logged {
		return waveErr
	}
	if _, err := e.finishCommit(ctx, t, info); err != nil {
		return withFailure(err, waveErr)
	}
	return waveErr
}

// lockWave takes e.waveMu, making the caller's wave the one running. Behind
// another wave it waits only until ctx ends (ctx.Err(), as for a wave its
// ctx stops) or the bus closes (ErrClosed): a wave can be held for long by
// a slow function, and a Propagate with a deadline waited for it whatever
// the deadline, and after Close, while waveMu was a sync.Mutex
// (TestPropagateWaitEndsWithCtxAndClose). A free semaphore is taken
// whatever ctx and Close say, so that the answer does not depend on
// select's random choice: the wave then sees both itself.
func (e *Bus) lockWave(ctx context.Context) error {
	select {
	case e.waveMu <- struct{}{}:
		return nil
	default:
	}
	select {
	case e.waveMu <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.waveClosed:
		return ErrClosed
	}
}

// unlockWave releases e.waveMu, taken by lockWave.
func (e *Bus) unlockWave() { <-e.waveMu }

// propagateLocked is PropagateInto's wave under e.mu, which it takes and
// releases, a panic included: it computes the wave, logs and applies it.
// logged says a record was logged (info, t name it; the caller waits for
// its durability), ckpt asks the caller to start a checkpoint (the log's
// growth bound refused the wave), waveErr is the wave's recompute failure
// and err the error to return (waveErr included). A panic out of the
// bus's own code while the wave holds e.mu exclusively fails the bus
// (failPanicked) and releases the lock; one while it holds it shared, or
// not at all (a wave computed without the lock), releases what it holds:
// nothing of the wave is applied then. The panic then goes on to the
// caller. A recompute function's own panic is its failure (callRecompute),
// and its runtime.Goexit releases the bus too (releaseAfterGoexit).
func (e *Bus) propagateLocked(ctx context.Context, r *PropagateResult) (t tlog.Ticket, info CommitInfo, logged, ckpt bool, waveErr, err error) {
	e.mu.Lock()
	if e.prop == nil {
		e.prop = newPropagator()
	}
	p := e.prop
	p.outside, p.shared = false, false
	defer func() {
		v := recover()
		switch {
		case v != nil:
			p.releaseAfterPanic(e, v)
			panic(v)
		case p.inCall:
			p.releaseAfterGoexit(e)
		default:
			e.mu.Unlock()
		}
	}()
	_ = e.settle() // lockSettled: a failed apply fails the bus, seen below
	if err := e.writable(); err != nil {
		return t, info, false, false, nil, err
	}
	if err := e.logBoundErr(); err != nil {
		return t, info, false, true, nil, err
	}
	if len(e.dirty) == 0 && !p.resync && len(p.retry) == 0 && len(e.recompute) == 0 {
		return t, info, false, false, nil, nil
	}
	failure, covered, err := e.computeWave(ctx, p, r)
	if err != nil {
		p.trim()
		return t, info, false, false, nil, err
	}
	// waveErr: the failure, if any, as an error (never a nil *RecomputeError)
	if failure != nil {
		waveErr = failure
	}
	e.computeFlags(p, e.dirty[:covered])
	n := len(p.outs) + len(p.flagOps)
	sets := e.logsSets(p, covered, n)
	if sets {
		n++ // the wave op, last
	}
	if n == 0 {
		e.endWave(p, covered)
		return t, info, false, false, waveErr, waveErr
	}
	now, err := e.commitClock()
	if err != nil {
		p.trim()
		return t, info, false, false, waveErr, withFailure(fmt.Errorf("propagation wave: %w", err), waveErr)
	}
	var buf []byte
	if sets {
		buf = record.AppendWaveHeader(p.buf[:0], now)
	} else {
		buf = record.AppendHeader(p.buf[:0], now)
	}
	for i := range p.outs {
		o := &p.outs[i]
		buf = record.AppendDerived(buf, p.reads[o.readsLo:o.readsHi], &o.d)
	}
	for _, f := range p.flagOps {
		buf = record.AppendFlags(buf, f.page, f.flags)
	}
	if sets {
		at := len(buf)
		buf = record.AppendWave(buf, p.waveDirty, p.waveHeld)
		if e.checkRecordBytes(len(buf)) != nil {
			// The wave op does not fit the record (a failing function
			// holding back a large subgraph, a small replication limit):
			// leave it out rather than refuse the wave at every try while
			// the function fails. The record is then one of before OpWave,
			// which replay treats conservatively (formats.md).
			record.AppendHeader(buf[:0], now) // rewrites the version byte in place (same length)
			buf, sets = buf[:at], false
			if n--; n == 0 {
				e.endWave(p, covered)
				return t, info, false, false, waveErr, waveErr
			}
		}
	}
	p.buf = buf
	// A wave over the log's record limit is refused here, not logged
	// (ErrRecordTooLarge, not sticky): deferred mode users flush more often.
	t, first, err := e.appendLocked(uint32(n), buf)
	if err != nil {
		p.trim()
		return t, info, false, false, waveErr, withFailure(fmt.Errorf("propagation wave of %d ops: %w", n, err), waveErr)
	}
	// Apply through the functions applyOp uses for OpDerived and OpSetFlags,
	// so that replay reaches the same state.
	// The dirty set is cleared below, so applyDelta need not mark the
	// derived pages dirty: turning graphHasEdges off for the loop saves a
	// map insert per written page. (It only gates dirty tracking.)
	hadEdges := e.graphHasEdges
	e.graphHasEdges = false
	for i := range p.outs {
		o := &p.outs[i]
		lsn := first + LSN(i)
		e.applyDerived(o.slot, &o.d, p.reads[o.readsLo:o.readsHi], lsn, now)
		r.Writes = append(r.Writes, PageWrite{Page: o.page, LSN: lsn, Epoch: o.d.Epoch})
	}
	e.graphHasEdges = hadEdges
	for j, f := range p.flagOps {
		lsn := first + LSN(len(p.outs)+j)
		e.setFlags(f.page, f.flags, lsn, now)
		r.Flags = append(r.Flags, FlagRaise{Page: f.page, LSN: lsn, Raised: f.flags &^ f.old, Flags: f.flags})
	}
	last := first + LSN(n) - 1
	if sets {
		// The wave op: endWave below does what applyWave does on replay.
		e.recordHist(last, 0, now)
	}
	e.lastLSN, e.lastTime = last, now
	e.store.PublishLSN(uint64(last))
	// The commit-time ring answers provenance's Time from memory (and
	// recovery stamps every record, waves included): a wave left out
	// had no time with NoLogDetails until the bus was reopened.
	e.stampCommit(first, last, now)
	r.FirstLSN, r.LastLSN = first, last
	e.endWave(p, covered)
	if err := e.replicateLocked(first, last, buf); err != nil {
		return t, info, false, false, waveErr, withFailure(err, waveErr)
	}
	return t, CommitInfo{FirstLSN: first, LastLSN: last, Time: now}, true, false, waveErr, nil
}

// endWave ends a wave that was applied (or had nothing to log). The wave
// covered every descendant of the first covered dirty pages, so they leave
// the dirty set (the wave's own writes would have marked derived pages
// dirty again, which must not start a new wave); pages written while it
// computed stay. What it held back is what the next wave retries. Caller
// holds e.mu.
func (e *Bus) endWave(p *propagator, covered int) {
	if covered == len(e.dirty) {
		clear(e.dirtySet) // the common case, and much cheaper than deletes
	} else {
		for _, id := range e.dirty[:covered] {
			delete(e.dirtySet, id)
		}
	}
	e.dirty = append(e.dirty[:0], e.dirty[covered:]...)
	p.resync = false
	p.retry, p.held = p.held, p.retry[:0]
	p.retrySet, p.heldSet = p.heldSet, p.retrySet
	p.trim()
	e.recountPending()
}

// logsSets reports whether the wave's record ends with a wave op (OpWave),
// filling p.waveDirty and p.waveHeld with its page sets: the dirty set and
// the retry set the wave leaves (endWave). It does when the wave writes
// anything (replayed, the derived deltas would mark their pages dirty,
// which the wave does not), consumes dirty pages, or changes which bound
// pages are to retry (bound and newly bound pages the plan took, pages
// held back). Without it, a bus recovered from the log counted every page
// written in the log tail as dirty and every page bound there as not yet
// computed: its first wave computed them again and raised flags that had
// been cleared since (TestPendingAfterRestartFromLog). A wave that changes
// none of that (a resync that wrote nothing) logs nothing, as before.
// n counts the wave's other ops. Caller holds e.mu; the wave is computed.
func (e *Bus) logsSets(p *propagator, covered, n int) bool {
	changed := n > 0 || covered > 0
	if !changed {
		// p.retry holds the pages the plan took (the last wave's held
		// back ones and those bound since); unbound ones no longer count.
		bound := 0
		for _, id := range p.retry {
			if _, ok := e.bindings[id]; ok {
				bound++
				if _, held := p.heldSet[id]; !held {
					changed = true
					break
				}
			}
		}
		changed = changed || bound != len(p.held)
	}
	if !changed {
		return false
	}
	p.waveDirty = append(p.waveDirty[:0], e.dirty[covered:]...)
	slices.Sort(p.waveDirty)
	p.waveHeld = append(p.waveHeld[:0], p.held...)
	slices.Sort(p.waveHeld)
	p.waveHeld = slices.Compact(p.waveHeld) // the encoding wants strictly ascending IDs
	return true
}

// checkWave checks a logged wave op against the state before it: every
// page it names as dirty exists, and every page it names as held back is
// bound. Caller holds e.mu.
func (e *Bus) checkWave(op *record.Op) error {
	for _, id := range op.Dirty {
		if _, ok := e.store.Lookup(id); !ok {
			return fmt.Errorf("%w: wave op: dirty page %d", ErrPageNotFound, id)
		}
	}
	for _, id := range op.Held {
		if _, ok := e.bindings[id]; !ok {
			return fmt.Errorf("%w: wave op: held-back page %d", ErrNotDerived, id)
		}
	}
	return nil
}

// applyWave applies a logged wave op (checked by checkWave), as endWave
// left the live bus: the dirty set becomes the op's (pages the wave's
// snapshot did not cover), and the pages to compute whatever their
// parents do become the ones it held back (the wave's plan took every
// page bound before it, and no binding changes while a wave computes).
// They go to e.recompute, which the next wave's plan moves to the retry
// set. Caller holds e.mu.
func (e *Bus) applyWave(op *record.Op) {
	clear(e.dirtySet)
	e.dirty = append(e.dirty[:0], op.Dirty...)
	for _, id := range op.Dirty {
		e.dirtySet[id] = struct{}{}
	}
	clear(e.recomputeSet)
	e.recompute = e.recompute[:0]
	if e.prop != nil {
		clear(e.prop.retrySet)
		e.prop.retry = e.prop.retry[:0]
	}
	for _, id := range op.Held {
		e.markRecompute(id)
	}
	e.recountPending() // the dirty set was replaced, not changed a page at a time
}

// withFailure adds a wave's recompute failure (nil: none) to err, the
// failure that ended the wave's commit.
func withFailure(err, failure error) error {
	if failure == nil {
		return err
	}
	return errors.Join(err, failure)
}

// waveView reports whether page id was dirty or got new bytes earlier in
// the wave, the bytes and last-write LSN a reader sees for it, and its slot.
func (e *Bus) waveView(p *propagator, id PageID, first LSN) (b []byte, sl page.Slot, lsn LSN, changed, ok bool) {
	if i, in := p.overlay[id]; in {
		o := &p.outs[i]
		return p.arena[o.off : o.off+o.n], o.slot, first + LSN(i), true, true
	}
	sl, found := e.store.Lookup(id)
	if !found {
		return nil, sl, 0, false, false
	}
	_, dirty := e.dirtySet[id]
	return e.store.Bytes(sl), sl, e.store.LastLSN(sl), dirty, true
}

// waveCheck is a page a wave computed without the lock read from the
// store (by slot: slots do not change while no control operation runs),
// with the last-write LSN it had then.
type waveCheck struct {
	slot page.Slot
	lsn  LSN
}

// errWaveStale says that what a wave computing without the lock planned
// with or read changed before it was done: it is computed again with the
// lock held.
var errWaveStale = errors.New("mmsb: the wave's inputs changed while it computed")

// computeWave fills p.outs with the changed derived pages of the wave and
// p.held with the pages it held back. It returns the wave's first
// recompute failure (nil: none), counting all of them in it; how many
// pages at the front of e.dirty the wave covered; and an error when ctx
// ended the wave or the bus closed or failed (nothing of it is to be
// applied then). The parent reads in p name the LSNs of a wave logged at
// e.lastLSN+1.
//
// Caller holds e.mu exclusively, and holds it again on return. The wave
// is first computed with e.mu released between its steps (runWave); if a
// page it read was written meanwhile, or a control operation changed the
// graph, the bindings or the pages, it is computed again with e.mu held
// throughout, so that a stream of writes to its inputs cannot starve it.
// Computed again after a write, it keeps the first try's results whose
// inputs did not change (keptResult), so commits wait only for the
// functions the write concerns. When most of the wave had to be computed
// again anyway, the next waves are computed under the lock from the start
// for a while (p.lockedLeft).
func (e *Bus) computeWave(ctx context.Context, p *propagator, r *PropagateResult) (*RecomputeError, int, error) {
	unlocked := p.lockedLeft == 0
	if !unlocked {
		p.lockedLeft--
	}
	tried := -1 // function calls of the stale try (-1: none went stale)
	for {
		e.planWave(p)
		covered, first := len(e.dirty), e.lastLSN+1
		p.unlocked, p.gen = unlocked, e.ctrlGen
		r.Roots = covered
		if !unlocked {
			failure, err := e.runWave(ctx, p, first, r)
			e.met.recomputed.Add(uint64(p.calls))
			if tried >= 0 {
				if 2*p.calls > tried {
					// Writers that overtook this wave where most of it
					// depends on what they write will likely overtake
					// the next ones too, and computing those twice costs
					// more than holding the lock: compute them under it
					// from the start (1, 2, 4, ... up to maxLockedWaves).
					p.backoff = min(max(2*p.backoff, 1), maxLockedWaves)
					p.lockedLeft = p.backoff
				} else {
					p.backoff = 0
				}
				p.keep = false
				clear(p.kept)
			}
			return failure, covered, err
		}
		p.outside = true // e.mu released: see propagateLocked's panic path
		e.mu.Unlock()
		failure, err := e.runWave(ctx, p, first, r)
		e.met.recomputed.Add(uint64(p.calls))
		e.mu.Lock() // lockSettled, with outside cleared as soon as it holds
		p.outside = false
		_ = e.settle()
		if werr := e.writable(); werr != nil { // closed or failed meanwhile
			return nil, 0, werr
		}
		if err != nil && !errors.Is(err, errWaveStale) {
			return nil, 0, err
		}
		if err == nil && !p.stale && e.waveStillHolds(p) {
			// Commits may have taken LSNs meanwhile: the wave's reads of
			// its own pages name the LSNs it is logged at.
			if shift := e.lastLSN + 1 - first; shift != 0 {
				for i := range p.reads {
					if p.reads[i].LSN >= first {
						p.reads[i].LSN += shift
					}
				}
			}
			p.backoff = 0
			return failure, covered, nil
		}
		e.met.wavesAgain.Add(1)
		if err == nil && e.ctrlGen == p.gen {
			p.keepTry(first)
		}
		tried = p.calls
		r.reset()
		unlocked = false
	}
}

// keepTry keeps the results of the stale try of a wave planned at LSN
// first for the wave computed again (keptResult): the try's outs, arena,
// reads and cuts become the kept ones, and the kept ones the scratch of
// the next pass. Only a try during which no control operation ran is
// kept: its slots, graph and bindings are the bus's.
func (p *propagator) keepTry(first LSN) {
	p.keep, p.keptFirst = true, first
	p.outs, p.keptOuts = p.keptOuts, p.outs
	p.arena, p.keptArena = p.keptArena, p.arena
	p.reads, p.keptReads = p.keptReads, p.reads
	p.cuts, p.keptCuts = p.keptCuts, p.cuts
	clear(p.kept)
	for i := range p.keptOuts {
		p.kept[p.keptOuts[i].page] = int32(i)
	}
	for k := range p.keptCuts {
		p.kept[p.keptCuts[k].page] = int32(-1 - k)
	}
}

// keptResult reports whether the stale try of this wave computed derived
// page child from the inputs it has now, and where its result is (an
// index in keptOuts, or -1-index in keptCuts). Its inputs are the same
// when the page's own bytes have the same last-write LSN, and so has each
// parent read from the store, while each parent computed in this wave
// was computed in the try too and its result kept (its bytes are the
// try's). reads are child's parent reads in this pass. Caller holds e.mu
// exclusively.
func (p *propagator) keptResult(child PageID, own LSN, reads []record.ParentRead) (int32, bool) {
	if !p.keep {
		return 0, false
	}
	k, ok := p.kept[child]
	if !ok {
		return 0, false
	}
	var was []record.ParentRead
	var wasOwn LSN
	if k >= 0 {
		o := &p.keptOuts[k]
		was, wasOwn = p.keptReads[o.readsLo:o.readsHi], o.own
	} else {
		c := &p.keptCuts[-1-k]
		was, wasOwn = p.keptReads[c.readsLo:c.readsHi], c.own
	}
	if wasOwn != own || len(was) != len(reads) {
		return 0, false
	}
	for i, rd := range reads {
		wasInWave := was[i].LSN >= p.keptFirst
		if j, inWave := p.overlay[rd.Page]; inWave {
			if !wasInWave || p.outs[j].fresh {
				return 0, false
			}
		} else if wasInWave || was[i].LSN != rd.LSN {
			return 0, false
		}
	}
	return k, true
}

// maxLockedWaves bounds how many waves in a row are computed under the lock
// after waves computed without it went stale: one in that many tries again
// without it.
const maxLockedWaves = 64

// planWave computes the wave's order (the Data-edge descendants of the
// dirty pages, the pages to retry and, on a resync, every binding's
// parents) and resets its scratch. Caller holds e.mu exclusively.
func (e *Bus) planWave(p *propagator) {
	// Pages to compute whatever their parents did join the retry set
	// (e.mu is held exclusively here: no wave reads it now).
	for _, id := range e.recompute {
		if _, ok := p.retrySet[id]; !ok {
			p.retrySet[id] = struct{}{}
			p.retry = append(p.retry, id)
		}
	}
	clear(e.recomputeSet)
	e.recompute = e.recompute[:0]
	roots := e.dirty
	if p.resync || len(p.retry) > 0 {
		p.roots = append(p.roots[:0], e.dirty...)
		if p.resync {
			for _, b := range e.bindings { // order does not matter: roots only seed the traversal
				p.roots = append(p.roots, b.Parents...)
			}
		}
		// Pages to retry enter the order through their parents: a root is
		// left out of it unless another root reaches it.
		for _, id := range p.retry {
			if b, ok := e.bindings[id]; ok {
				p.roots = append(p.roots, b.Parents...)
			}
		}
		roots = p.roots
	}
	p.order = e.graph.AppendDescendants(p.order[:0], roots, &p.dataOnly)
	clear(p.overlay)
	clear(p.heldSet)
	p.held = p.held[:0]
	p.outs = p.outs[:0]
	p.arena = p.arena[:0]
	p.reads = p.reads[:0]
	p.checks = p.checks[:0]
	p.cuts = p.cuts[:0]
	p.stale, p.calls = false, 0
}

// runWave computes the planned wave (see computeWave), a page at a time
// in p.order. With p.unlocked, the caller does not hold e.mu: the steps
// take it shared (enter), releasing it around each function call and
// every 1,024 steps, so the recompute functions run without it; the wave
// ends with errWaveStale as soon as a step finds the graph or
// the bindings changed. It returns without e.mu then, and with e.mu as
// the caller held it otherwise.
func (e *Bus) runWave(ctx context.Context, p *propagator, first LSN, r *PropagateResult) (*RecomputeError, error) {
	r.Visited = len(p.order)
	var failure *RecomputeError
	if err := p.enter(e); err != nil {
		return nil, err
	}
	for k, child := range p.order {
		if k&1023 == 1023 {
			// Let writers in between long runs of steps that call no
			// function (recomputePage lets them in around each call).
			p.leave(e)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := p.enter(e); err != nil {
				return nil, err
			}
		}
		// The order is topological: a page below a held-back one comes
		// after it, and is held back too.
		if len(p.heldSet) > 0 && e.belowHeld(p, child) {
			p.hold(e, child)
			continue
		}
		b, bound := e.bindings[child]
		if !bound {
			continue // plain Data edges without a binding only order the wave
		}
		sl, ok := e.store.Lookup(child)
		if !ok {
			continue
		}
		ferr, err := e.recomputePage(ctx, p, child, b, sl, first, r)
		if err != nil {
			return nil, err
		}
		if ferr != nil {
			if failure == nil {
				failure = ferr
			}
			p.hold(e, child)
			r.Failed = append(r.Failed, child)
		}
	}
	p.leave(e)
	if failure != nil {
		failure.HeldBack, failure.Failures = len(p.held), len(r.Failed)
		r.HeldBack = len(p.held)
	}
	return failure, nil
}

// enter starts the steps of a wave computed without the lock up to its
// next function call: it takes e.mu shared, and ends the wave (errWaveStale, e.mu released) if the bus
// closed or failed or a control operation ran since the wave was planned.
// A no-op for a wave computed under the lock.
func (p *propagator) enter(e *Bus) error {
	if !p.unlocked {
		return nil
	}
	e.mu.RLock() // rlockSettled, with shared set as soon as it holds
	p.shared = true
	if e.applier.current {
		e.applier.help()
	}
	if e.usable() != nil || e.ctrlGen != p.gen {
		p.shared = false
		e.mu.RUnlock()
		return errWaveStale
	}
	return nil
}

// leave releases what enter took.
func (p *propagator) leave(e *Bus) {
	if p.unlocked {
		p.shared = false
		e.mu.RUnlock()
	}
}

// waveStillHolds reports whether the pages, graph and bindings a wave
// computed without the lock read are still the bus's: no control
// operation ran, and every page it read (parents, and the derived pages'
// own bytes) has the last-write LSN it had when read. Caller holds e.mu.
func (e *Bus) waveStillHolds(p *propagator) bool {
	if e.ctrlGen != p.gen {
		return false
	}
	for _, c := range p.checks { // slots are the same while ctrlGen is
		if e.store.LastLSN(c.slot) != c.lsn {
			return false
		}
	}
	return true
}

// belowHeld reports whether a Data-edge parent of id is held back in this
// wave. Caller holds e.mu.
func (e *Bus) belowHeld(p *propagator, id PageID) bool {
	p.edges = e.graph.AppendParents(p.edges[:0], id)
	for _, ed := range p.edges {
		if _, held := p.heldSet[ed.Parent]; held && ed.Type == base.EdgeData {
			return true
		}
	}
	return false
}

// appendRecompute appends the derived pages the next wave computes whether
// or not a parent changed (e.recompute and the retry set; bound ones only,
// unsorted, possibly twice) to dst. Caller holds e.mu.
func (e *Bus) appendRecompute(dst []PageID) []PageID {
	for _, id := range e.recompute {
		if _, ok := e.bindings[id]; ok {
			dst = append(dst, id)
		}
	}
	if e.prop != nil {
		for _, id := range e.prop.retry {
			if _, ok := e.bindings[id]; ok {
				dst = append(dst, id)
			}
		}
	}
	return dst
}

// hold holds page id back in this wave. Caller holds e.mu.
func (p *propagator) hold(e *Bus, id PageID) {
	p.heldSet[id] = struct{}{}
	if _, bound := e.bindings[id]; bound {
		p.held = append(p.held, id)
	}
}

// recomputePage recomputes derived page child (binding b, slot sl) if one
// of its parents is dirty or changed earlier in the wave (or the wave is a
// resync, or child was held back by the last wave), adding its delta to
// p.outs when its bytes change. On failure it leaves p as it found it. A
// wave computed without the lock calls the function without it (leave,
// enter), and ends (errWaveStale, e.mu released) if the wave went stale
// meanwhile or a parent it reads from the store was written since the
// wave was planned. A function is not called once ctx is done: the wave
// ends with ctx's error (e.mu released as by errWaveStale).
func (e *Bus) recomputePage(ctx context.Context, p *propagator, child PageID, b *Binding, sl page.Slot, first LSN, r *PropagateResult) (*RecomputeError, error) {
	p.inputs = p.inputs[:0]
	readsLo, checksLo := len(p.reads), len(p.checks)
	trigger := p.resync
	if !trigger && len(p.retrySet) > 0 {
		_, trigger = p.retrySet[child]
	}
	for _, par := range b.Parents {
		in, psl, lsn, changed, ok := e.waveView(p, par, first)
		if !ok {
			p.reads, p.checks = p.reads[:readsLo], p.checks[:checksLo]
			return &RecomputeError{Page: child, Func: b.Func, Err: fmt.Errorf("%w: parent %d", ErrPageNotFound, par)}, nil
		}
		if p.unlocked && lsn >= first {
			if _, own := p.overlay[par]; !own {
				// Written by a commit since the wave was planned (its
				// LSN would be taken for one of the wave's own): the
				// wave is stale. Its other steps go on, for the wave
				// computed again to keep their results.
				p.stale = true
				p.reads, p.checks = p.reads[:readsLo], p.checks[:checksLo]
				return nil, nil
			}
		} else if p.unlocked {
			// Read from the store: to check once the wave is done.
			p.checks = append(p.checks, waveCheck{psl, lsn})
		}
		trigger = trigger || changed
		p.inputs = append(p.inputs, in)
		p.reads = append(p.reads, record.ParentRead{Page: par, LSN: lsn})
	}
	if !trigger {
		p.reads, p.checks = p.reads[:readsLo], p.checks[:checksLo]
		return nil, nil
	}
	fn, ok := e.funcs[b.Func]
	if !ok {
		p.reads, p.checks = p.reads[:readsLo], p.checks[:checksLo]
		return &RecomputeError{Page: child, Func: b.Func, Err: ErrUnknownFunc}, nil
	}
	own := e.store.LastLSN(sl)
	if p.unlocked {
		// What the result depends on, to check once the wave is done: the
		// parents read from the store (above) and the page's own bytes
		// (the delta is their difference).
		p.checks = append(p.checks, waveCheck{sl, own})
	}
	off := len(p.arena)
	var ferr error
	k, kept := p.keptResult(child, own, p.reads[readsLo:])
	switch {
	case kept && k < 0: // the stale try's cutoff
		p.reads = p.reads[:readsLo]
		r.Recomputed++
		r.Cutoffs++
		return nil, nil
	case kept:
		r.Recomputed++
		ko := &p.keptOuts[k]
		p.arena = append(p.arena, p.keptArena[ko.off:ko.off+ko.n]...)
	default:
		if err := ctx.Err(); err != nil {
			// Before each call, not only every 1,024 steps: a wave of a
			// few hundred slow functions ran them all, and was logged,
			// with its context long done (TestWaveStopsWhenItsContextEnds).
			p.leave(e)
			return nil, err
		}
		// Counted once the call is sure to happen: a wave its context
		// ended counted the page it stopped before as recomputed
		// (TestCancelledWaveResult).
		r.Recomputed++
		p.copyInputs()
		out := p.copyOut(e.store.Bytes(sl))
		p.calls++
		p.leave(e)
		p.inCall = true
		ferr = callRecompute(fn, p.inputs, p.copyParams(b.Params), out)
		p.inCall = false
		if err := p.enter(e); err != nil {
			return nil, err
		}
		if ferr == nil {
			p.arena = append(p.arena, out...)
		}
	}
	out := p.arena[off:]
	if ferr != nil {
		p.arena = p.arena[:off]
		p.reads = p.reads[:readsLo]
		return &RecomputeError{Page: child, Func: b.Func, Err: ferr}, nil
	}
	cur := e.store.Bytes(sl) // unchanged since it was copied, or the wave is computed again
	idx := len(p.outs)
	if idx < cap(p.outs) {
		p.outs = p.outs[:idx+1]
	} else {
		p.outs = append(p.outs, waveOut{})
	}
	o := &p.outs[idx]
	o.d.Runs = o.d.Runs[:0]
	err := delta.AppendDiff(&o.d, cur, out)
	if err != nil || len(o.d.Runs) == 0 {
		p.outs = p.outs[:idx]
		p.arena = p.arena[:off]
		if err != nil {
			// out is a copy of cur, so the lengths agree; were a function
			// to break that, fail the page rather than log a wrong delta.
			p.reads = p.reads[:readsLo]
			return &RecomputeError{Page: child, Func: b.Func, Err: err}, nil
		}
		r.Cutoffs++
		if p.unlocked {
			// Kept, with its reads, should the wave be computed again.
			p.cuts = append(p.cuts, waveCut{page: child, own: own, readsLo: readsLo, readsHi: len(p.reads)})
		} else {
			p.reads = p.reads[:readsLo]
		}
		return nil, nil
	}
	o.page, o.slot, o.off, o.n = child, sl, off, len(cur)
	o.own, o.fresh = own, !kept
	o.readsLo, o.readsHi = readsLo, len(p.reads)
	o.d.Page = child
	o.d.Source = PropagationSource
	p.overlay[child] = int32(idx)
	return nil, nil
}

// trim lets go of the scratch a large wave grew past maxKeptBuf (its
// outputs, its record, the copies of a call's inputs and out), as a
// commit does with its buffer (keepBuf): one wave over large pages would
// otherwise keep that memory for the bus's life. Caller holds e.mu; the wave is applied or
// abandoned.
func (p *propagator) trim() {
	if cap(p.arena) > maxKeptBuf {
		p.arena = nil
		clear(p.outs[:cap(p.outs)]) // their runs alias the arena
		p.outs = p.outs[:0]
	}
	if cap(p.keptArena) > maxKeptBuf {
		p.keptArena = nil
		clear(p.keptOuts[:cap(p.keptOuts)])
		p.keptOuts = p.keptOuts[:0]
	}
	if cap(p.buf) > maxKeptBuf {
		p.buf = nil
	}
	if cap(p.inCopy)+cap(p.outCopy) >= maxKeptBuf { // the copies of one call: together under maxKeptBuf
		p.outCopy = nil
		p.inCopy = nil
		clear(p.inputs[:cap(p.inputs)]) // they alias inCopy
		p.inputs = p.inputs[:0]
	}
}

// copyInputs replaces p.inputs by private copies (in p.inCopy, reused).
// The inputs are live page memory (and earlier outputs of the wave), and
// recompute functions are user code, run without the lock while commits
// write page memory: an impure one that wrote to its inputs, or kept them
// and wrote later, would change state outside the log, which replay could
// never reproduce, and reading page memory there would race with the
// commits. A copy, taken under the lock, makes
// that impossible rather than detectable, in every build; it costs one
// memcpy of the inputs per call, which the function reads anyway (measured
// in docs/propagation.md).
func (p *propagator) copyInputs() {
	n := 0
	for _, in := range p.inputs {
		n += len(in)
	}
	p.inCopy = slices.Grow(p.inCopy[:0], n)
	for _, in := range p.inputs {
		p.inCopy = append(p.inCopy, in...)
	}
	off := 0
	for i, in := range p.inputs {
		end := off + len(in)
		p.inputs[i] = p.inCopy[off:end:end] // capacity-limited: appending cannot reach the next input
		off = end
	}
}

// copyOut returns the out a function is called with: a private copy of
// the page's bytes (in p.outCopy, reused), copied into the arena once the
// call returned. Handing the function arena memory instead let one that
// kept its out and wrote to it at a later call change another page's
// result: by then that memory held the output of a page computed earlier
// in that wave, already diffed into its delta, and the wave logged the
// other page's bytes with the write in them
// (TestFunctionKeepingOutCannotChangeOtherPages). Like the inputs, a kept
// out is now the same buffer as the out of the function's later calls, so
// writing it changes only the function's own output.
func (p *propagator) copyOut(cur []byte) []byte {
	p.outCopy = append(p.outCopy[:0], cur...)
	return p.outCopy[:len(cur):len(cur)]
}

// copyParams returns a private copy of a binding's params (in p.params,
// reused), for the reason copyInputs gives: the binding's own slice is
// engine state, written to checkpoints and compared by VerifyReplay, and a
// function that wrote to it would change the binding outside the log (and
// every later recompute with it). nil stays nil.
func (p *propagator) copyParams(params []byte) []byte {
	if len(params) == 0 {
		return params
	}
	p.params = append(p.params[:0], params...)
	return p.params[:len(params):len(params)]
}

// releaseAfterGoexit runs as PropagateInto returns (deferred). A
// recompute function still in its call then ended the wave's goroutine
// with runtime.Goexit (as t.FailNow does): callRecompute recovers panics,
// and nothing else leaves a call early. Goexit cannot be stopped, but the
// bus must not stay locked by a goroutine that is gone: a wave computed
// under the lock held e.mu through the call, and every later commit,
// read and Close hung (TestRecomputeGoexitReleasesTheBus). Nothing of the
// wave was applied (a wave is applied only once computed whole), so
// releasing the lock is all there is to do, besides dropping a stale
// try's results kept for this wave. The wave's scratch is replanned by
// the next wave; its pages stay dirty or to retry.
func (p *propagator) releaseAfterGoexit(e *Bus) {
	if !p.inCall {
		return
	}
	p.inCall = false
	p.keep = false
	clear(p.kept)
	if !p.unlocked {
		e.mu.Unlock() // computed under the lock: held exclusively through the call
	}
}

// releaseAfterPanic runs as propagateLocked's wave ends with a panic with
// value v out of the bus's own code (a defect; a recompute function's
// panic is its failure, see callRecompute), before the panic goes on.
// Under e.mu held exclusively, the wave may have applied part of its
// record (or changed the dirty set): the bus fails as for a panic in
// Commit (failPanicked) and e.mu is released. A wave computed without
// the lock applies nothing: the read lock it held, if any, is released,
// and the bus goes on. Either way the next wave replans from the bus's
// state, without a stale try's results. Before, e.mu stayed held and
// every later call, Close too, waited for ever
// (TestPropagatePanicReleasesTheBus).
func (p *propagator) releaseAfterPanic(e *Bus, v any) {
	p.keep = false
	clear(p.kept)
	p.inCall = false
	switch {
	case !p.outside:
		e.failPanicked("a propagation wave", v)
		e.mu.Unlock()
	case p.shared:
		p.shared = false
		e.mu.RUnlock()
	}
	p.outside = false
}

// callRecompute calls fn, turning a panic into an error so that a faulty
// function fails its wave instead of the process.
func callRecompute(fn func([][]byte, []byte, []byte) error, inputs [][]byte, params, out []byte) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return fn(inputs, params, out)
}

// computeFlags fills p.flagOps: the flags that Control, GPU-sync and
// Compiler edges from dirty or changed pages raise on their children, in
// page order, only where a bit changes. Caller holds e.mu.
func (e *Bus) computeFlags(p *propagator, dirty []PageID) {
	clear(p.flagAdd)
	p.flagIDs = p.flagIDs[:0]
	p.flagOps = p.flagOps[:0]
	// Cheap pre-check: one traversal over flag edges only. In the common
	// case (no flag edge leaves any written page) it finds nothing and the
	// per-page child listing below is skipped.
	p.roots = append(p.roots[:0], dirty...)
	for i := range p.outs {
		p.roots = append(p.roots, p.outs[i].page)
	}
	p.flagScan = e.graph.AppendDescendants(p.flagScan[:0], p.roots, &p.flagOnly)
	if len(p.flagScan) == 0 {
		return
	}
	visit := func(id PageID) {
		p.edges = e.graph.AppendChildren(p.edges[:0], id)
		for _, ed := range p.edges {
			f := edgeFlag(ed.Type)
			if f == 0 {
				continue
			}
			old, seen := p.flagAdd[ed.Child]
			if !seen {
				p.flagIDs = append(p.flagIDs, ed.Child)
			}
			p.flagAdd[ed.Child] = old | f
		}
	}
	for _, id := range dirty {
		visit(id)
	}
	for i := range p.outs {
		// A page still in the dirty set was visited above, or is left
		// dirty (written while the wave computed) for the next wave.
		if _, dirty := e.dirtySet[p.outs[i].page]; !dirty {
			visit(p.outs[i].page)
		}
	}
	if len(p.flagIDs) == 0 {
		return
	}
	slices.Sort(p.flagIDs)
	for _, id := range p.flagIDs {
		old := e.flags[id]
		nf := old | p.flagAdd[id]
		if nf != old {
			p.flagOps = append(p.flagOps, flagOp{page: id, old: old, flags: nf})
		}
	}
}
