package mmsb

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"golang.org/x/sys/cpu"
)

// parallelMin is the batch size from which a batch is validated, encoded
// and applied by several workers; below it the hand-off costs more than it
// saves.
const parallelMin = 256

// shardShift groups 16 consecutive slots into one apply shard unit, so that
// the per-slot epoch and LSN words of different shards never share a cache
// line (false sharing made 2 workers slower than 1).
const shardShift = 4

// chunkDeltas is the size of a check+encode work unit.
const chunkDeltas = 256

// shardsPerWorker: the apply phase is cut into this many page shards per
// worker, claimed dynamically, so that uneven shards and a late worker
// balance out.
const shardsPerWorker = 8

// parallelApplier runs the two parallel phases of a large commit on the
// committing goroutine plus workers-1 helper goroutines. Work is cut into
// units that every participant claims with an atomic counter, so a helper
// that starts late (parked, or descheduled on a busy machine) only takes
// fewer units: the committer never waits for work nobody has started.
//
//   - check+encode: units are contiguous chunks of the batch; each is
//     validated and encoded into its own buffer; buffers are concatenated in
//     chunk order, so the log holds the batch in submission order whatever
//     the worker count.
//   - apply: units are page shards (slot>>shardShift % shards); the
//     committer buckets the batch by shard, in batch order, between the two
//     phases. Per-page order is batch order, and the result equals serial
//     application for any worker count.
type parallelApplier struct {
	workers int

	// Hand-off. A job is published by storing its fields and bumping seq;
	// helpers spin briefly on seq, then park on their wake channel.
	seq    atomic.Uint64
	job    jobKind
	parked []atomic.Bool
	wake   []chan struct{}
	quit   atomic.Bool

	// lastApplyEnd is when the committer finished the last apply job (its
	// own clock reading, committer-only); commitGap is the gap from it to
	// the start of the next commit's first job, read by the helpers.
	lastApplyEnd time.Time
	commitGap    atomic.Int64 // ns

	// current: a job is published and not yet ended by finish. Written
	// under e.mu held exclusively, read under it held either way.
	current bool

	// Work units of the current job.
	units   int
	next    atomic.Int64 // next unit to claim
	done    atomic.Int64 // units finished
	running atomic.Int32 // helpers inside the current job

	// The current job's arguments, set before seq is bumped (the atomic
	// orders these writes before the helpers' reads). Fields rather than a
	// closure, so that a commit allocates nothing.
	e     *Bus
	ds    []delta.Delta
	slots []page.Slot
	first LSN
	now   int64
	// check/encode job: ds[histFrom:] go to the history ring
	histFrom int

	// Pipelined apply (see applyPipelined): up to depth logged batches
	// wait for the helper in pipe, a ring of more than depth entries:
	// batch n (counting pushes from 0) is pipe[n%len(pipe)]. The committer
	// fills the entry of batch pushed, then bumps pushed; whoever runs the
	// current jobApplyWrites (drain) applies batches in push order and
	// bumps applied after each. active is true while a drain runs or is
	// about to: the committer starts a job only when it finds it false
	// (applyPipelined), so that one drain runs at a time. Records are
	// copied into ring at ringPos. dec and op are the drain's decoder
	// state; applyErr is a decode failure or a panic (unitPanicked), for
	// the committer to fail the bus with (settle), and failed says so to a
	// committer that has not settled.
	// The counters and flags sit on cache lines of their own: the drain
	// polls pushed while the committer writes its fields, and the helper
	// writes its decoder's state for every delta.
	_        cpu.CacheLinePad
	pushed   atomic.Uint64
	pushGap  atomic.Int64 // ns between the last two pushes
	_        cpu.CacheLinePad
	applied  atomic.Uint64
	_        cpu.CacheLinePad
	active   atomic.Bool
	failed   atomic.Bool
	hurry    atomic.Bool // someone waits for the drain to end: stop polling for pushes
	_        cpu.CacheLinePad
	dec      record.Decoder
	op       record.Op
	applyErr error
	_        cpu.CacheLinePad
	pipe     [maxPipeDepth + 1]pipeBatch
	depth    int // batches that may wait: pipeDepth, or pinned by tests
	ring     []byte
	ringPos  int
	lastPush time.Time // committer-only

	// recOffs holds each delta's offset in the record of the batch being
	// committed, written by the committer's check (stampSplit reads it).
	recOffs []int32
	// share is the helper's part of a pipelined batch, in 64ths: one
	// less after a batch that found the queue full (the committer would
	// wait for the helper), one more after one that found it empty (the
	// helper waited for the committer). fixedShare >= 0 pins it (tests).
	share, fixedShare int

	// holdApplyWrites, set by tests before the first commit, runs before
	// a pipelined batch's bytes are copied (to hold the helper back), with
	// the batch's record.
	holdApplyWrites func(rec []byte)
	// unitHook, set by tests before the first commit, runs at the start of
	// every work unit, with the job and whether a helper goroutine runs it
	// (to make a unit panic there).
	unitHook func(job jobKind, onHelper bool)

	// helperPanic is the first panic out of a check+encode or apply unit
	// run on a helper goroutine (helperWork), for the committer to raise
	// again once the job has ended (run, checkAndEncode).
	helperPanic atomic.Pointer[workerPanic]

	chunkBufs  [][]byte // check+encode output per chunk
	chunkErrs  []error
	chunkSinks []int     // lookupSlots' results, kept so its loads stay
	shardIdx   [][]int32 // apply: batch indices per shard, in batch order
}

type jobKind uint8

const (
	jobCheckEncode jobKind = iota
	jobApply
	jobApplyWrites // a pipelined apply: one unit, the whole batch
)

// betweenJobsSpin is how long a helper that just finished a check+encode
// job polls for the apply job that follows it in the same commit before it
// parks. The gap between the two is the log append and bucketing the batch
// (tens of microseconds), so the helper is still running when the apply job
// comes.
const betweenJobsSpin = 50 * time.Microsecond

// maxIdleSpin bounds how long a helper polls for the next commit after a
// commit's apply job, and a drain for the next pipelined batch (awaitPush).
// A helper polls only when the committer came back quickly last time (the
// gap between the end of one commit's apply and the start of the next
// commit's jobs, or between two pushes, was under maxIdleSpin), and then
// for at most twice that gap: a committer that commits back to back keeps
// its helpers hot (parking them cost a third of the 2-worker throughput),
// and one that pauses (a tick loop, a bursty client) finds them parked at
// once, so that on a shared machine an idle bus burns no core (the
// helpers used to poll 500 µs after every batch;
// TestHelperParksWhenCommitsPause). A parked helper is woken at the next
// job, and the committer never waits for it, so parking costs parallelism
// at the start of a job, never latency. 100 µs, not 200: a committer that
// spends 100–200 µs between pushes (validate #5 makes each batch between
// its commits) kept the helper polling through most of every batch, which
// on the 2-core VM took two workers from 16.4–17.2M to 11.9–13.6M
// deltas/s, under one worker's 17M; back-to-back commits come every 60–80
// µs a batch and poll as before (docs/benchmarks.md, 2026-12-05).
const maxIdleSpin = 100 * time.Microsecond

// idleSpin is how long a helper polls for the next commit, given the last
// gap between commits.
func idleSpin(gap time.Duration) time.Duration {
	if gap <= 0 || gap >= maxIdleSpin {
		return 0
	}
	return min(2*gap, maxIdleSpin)
}

func newParallelApplier(workers int) *parallelApplier {
	p := &parallelApplier{workers: workers, share: initialShare, fixedShare: -1, depth: pipeDepth}
	if workers <= 1 {
		return p
	}
	p.shardIdx = make([][]int32, workers*shardsPerWorker)
	p.parked = make([]atomic.Bool, workers)
	p.wake = make([]chan struct{}, workers)
	for w := 1; w < workers; w++ {
		p.wake[w] = make(chan struct{}, 1)
		go p.helper(w)
	}
	return p
}

// helper runs published jobs until close.
func (p *parallelApplier) helper(w int) {
	var seen uint64
	var spin time.Duration
	for {
		next := p.awaitJob(w, seen, spin)
		if p.quit.Load() {
			return
		}
		seen = next
		if next%2 == 0 {
			continue // a job ended: wait for the next (spinning as before)
		}
		spin = 0
		// Odd seq values are jobs; run bumps seq to the next even value
		// when a job ends. Announce presence first, then check that the
		// job is still current: run waits for running to drop to zero
		// after its end bump, so a helper that passes the check reads the
		// job's fields before they can be reused.
		p.running.Add(1)
		if p.seq.Load() == next {
			job := p.job
			switch job {
			case jobCheckEncode:
				spin = betweenJobsSpin // the apply job follows shortly
			case jobApply:
				spin = idleSpin(time.Duration(p.commitGap.Load()))
			}
			p.helperWork(job)
			if job == jobApplyWrites && p.hurry.Load() {
				// A reader ended the drain, not a pause of the commits: the
				// next push may come as soon as it is done. A drain that
				// ended on its own polled already: park at once.
				spin = idleSpin(time.Duration(p.pushGap.Load()))
			}
		}
		p.running.Add(-1)
	}
}

// workerPanic is a panic out of a work unit that was recovered where it
// happened (helperWork, helpDrain), to be raised again on the committer's
// goroutine or to fail the drain. It names the panic; a value that is an
// error is wrapped (errors.Is and As see it).
type workerPanic struct{ v any }

func (w *workerPanic) Error() string { return fmt.Sprintf("an apply worker panicked: %v", w.v) }

func (w *workerPanic) Unwrap() error {
	err, _ := w.v.(error)
	return err
}

// helperWork is a helper goroutine's work on the current job. A panic out
// of one of its units (a defect of the bus's own code: the code a caller
// gives the bus does not run in these jobs) ended the whole process, as a
// panic on a goroutine that nobody recovers does, or, recovered without
// more, would leave the committer waiting for ever for the unit's done
// count. It is recovered here, once per job (one open-coded deferred
// call: nothing per unit or delta), and the unit is counted done
// (unitPanicked): what the user sees is what the same panic on the
// committing goroutine gives (TestWorkerPanicFailsBus).
func (p *parallelApplier) helperWork(job jobKind) {
	defer func() {
		if v := recover(); v != nil {
			p.unitPanicked(job, v)
		}
	}()
	p.work(true)
}

// helpDrain is help's work on a drain job (a reader's or the committer's
// goroutine running the pipelined apply): a panic there is the drain's
// failure, as on a helper (unitPanicked), not a panic out of a reader
// that holds e.mu shared. One deferred call per drain job helped.
func (p *parallelApplier) helpDrain() {
	defer func() {
		if v := recover(); v != nil {
			p.unitPanicked(jobApplyWrites, v)
		}
	}()
	p.work(false)
}

// unitPanicked records a panic with value v out of a unit of job and
// counts the unit done, so that the job ends (help and finish wait for
// every unit). A drain's panic fails the drain as a record that does not
// decode does (applyErr, failed; active false, so that a committer that
// waits for room in the queue settles): the next settle fails the bus
// with it (ErrFailed naming the panic). A check+encode or apply unit's is
// kept (helperPanic) for the committer, which raises it again once the
// job has ended (run, checkAndEncode): the commit then fails the bus and
// the panic goes on to its caller, as for a panic in the committer's own
// unit (failPanicked).
func (p *parallelApplier) unitPanicked(job jobKind, v any) {
	wp := &workerPanic{v: v}
	if job == jobApplyWrites {
		if p.applyErr == nil {
			p.applyErr = wp
		}
		p.failed.Store(true)
		p.active.Store(false)
	} else {
		p.helperPanic.CompareAndSwap(nil, wp)
	}
	p.done.Add(1)
}

// awaitJob returns once seq moves past seen (or the applier closes),
// polling for up to spin before it parks.
func (p *parallelApplier) awaitJob(w int, seen uint64, spin time.Duration) uint64 {
	for {
		if spin > 0 {
			deadline := time.Now().Add(spin)
			for i := 0; ; i++ {
				if s := p.seq.Load(); s != seen || p.quit.Load() {
					return s
				}
				if i%64 == 63 {
					if time.Now().After(deadline) {
						break
					}
					runtime.Gosched()
				}
			}
		}
		p.parked[w].Store(true)
		// Re-check after announcing we park: run either sees parked and
		// sends a token, or we see its new seq here.
		if s := p.seq.Load(); s != seen || p.quit.Load() {
			p.parked[w].Store(false)
			return s
		}
		<-p.wake[w]
		p.parked[w].Store(false)
	}
}

// run publishes a job of units work units, works on it, and returns once
// every unit is done and no helper is still inside the job.
// A panic out of a helper's unit is raised again here, once the job has
// ended (helperWork).
func (p *parallelApplier) run(job jobKind, units int) {
	p.publish(job, units, 0)
	p.finishSync()
}

// finishSync is finish for a check+encode or apply job, which the commit
// that published it ends before it returns: a panic out of a helper's
// unit is raised again here. A panic out of the committer's own unit goes
// on to the commit's caller (failPanicked), but the job is abandoned
// first (abandon): left current, the next reader, settle or Close ran its
// unclaimed units, on the failed batch's deltas that the caller owns
// again, and a defect that panicked once panicked there again, under a
// read lock nothing released, or out of Close. One deferred call a job,
// re-raising inside it: the frames that panicked stay below.
func (p *parallelApplier) finishSync() {
	defer func() {
		if v := recover(); v != nil {
			p.abandon()
			panic(v)
		}
	}()
	p.finish()
	if wp := p.helperPanic.Swap(nil); wp != nil {
		panic(wp)
	}
}

// abandon ends the current job without working on it: no unit is claimed
// any more, and helpers inside it finish the unit they run (a panic there
// is recovered, helperWork) and leave. The caller holds e.mu exclusively,
// and fails the bus (a panic out of the job goes on to failPanicked).
func (p *parallelApplier) abandon() {
	if !p.current {
		return
	}
	p.next.Store(int64(p.units))
	p.seq.Add(1) // even: no job (finish)
	for i := 0; p.running.Load() != 0; i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	p.current = false
	p.e, p.ds, p.slots = nil, nil, nil
	p.helperPanic.Store(nil)
}

// publish hands a job of units work units to the helpers (waking parked
// ones) without working on it; units before from are already done. The
// caller holds e.mu exclusively, and no other job is current: finish
// ended it.
func (p *parallelApplier) publish(job jobKind, units, from int) {
	if job == jobApplyWrites {
		// A drain polls for pushes itself (drain) and ends once none came:
		// its helper then parks (helper).
		p.hurry.Store(false)
	} else if job == jobCheckEncode || p.job != jobCheckEncode {
		// The first job of a commit (an apply job without a parallel
		// check+encode before it starts a commit too).
		if !p.lastApplyEnd.IsZero() {
			p.commitGap.Store(int64(time.Since(p.lastApplyEnd)))
		}
	}
	p.job, p.units = job, units
	p.next.Store(int64(from))
	p.done.Store(int64(from))
	p.seq.Add(1) // odd: a job is published
	p.current = true
	for w := 1; w < p.workers; w++ {
		if p.parked[w].Load() {
			select {
			case p.wake[w] <- struct{}{}:
			default: // a token is already waiting
			}
		}
	}
}

// finish works on the current job until every unit is done and no helper
// is still inside it, then ends it. A panic out of a helper's check+encode
// or apply unit (helperWork) is left in helperPanic, for finishSync to
// raise; a drain's is its applyErr. The caller holds e.mu exclusively.
func (p *parallelApplier) finish() {
	if !p.current {
		return
	}
	p.help()
	// A helper that woke late may be about to claim: bump seq to even so
	// that it sees no job, and wait for helpers inside the job to leave
	// before its fields are reused.
	p.seq.Add(1)
	for i := 0; p.running.Load() != 0; i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	p.current = false
	p.e, p.ds, p.slots = nil, nil, nil
	if p.job != jobCheckEncode {
		p.lastApplyEnd = time.Now()
	}
}

// help works on the current job's unclaimed units and waits until every
// unit is done. Readers holding e.mu shared call it to see a pipelined
// apply through (several at once: units are claimed atomically); it leaves
// the job current, for finish to end.
func (p *parallelApplier) help() {
	p.hurry.Store(true) // a drain stops polling for pushes that cannot come
	if p.job == jobApplyWrites {
		p.helpDrain()
	} else {
		p.work(false) // a panic goes on to the committer's caller (failPanicked)
	}
	// Units claimed by someone else may still be running; they are short.
	for i := 0; p.done.Load() != int64(p.units); i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
}

// work claims and runs units of the current job until none is left;
// onHelper says a helper goroutine calls it.
func (p *parallelApplier) work(onHelper bool) {
	for {
		u := int(p.next.Add(1) - 1)
		if u >= p.units {
			return
		}
		if p.unitHook != nil {
			p.unitHook(p.job, onHelper)
		}
		switch p.job {
		case jobCheckEncode:
			p.checkEncodeChunk(u)
		case jobApply:
			p.applyShard(u)
		case jobApplyWrites:
			p.drain()
		}
		p.done.Add(1)
	}
}

func (p *parallelApplier) checkAndEncode(e *Bus, buf []byte, ds []delta.Delta, slots []page.Slot, first LSN, histFrom int) ([]byte, []page.Slot, error) {
	chunks := (len(ds) + chunkDeltas - 1) / chunkDeltas
	for len(p.chunkBufs) < chunks {
		p.chunkBufs = append(p.chunkBufs, nil)
		p.chunkErrs = append(p.chunkErrs, nil)
		p.chunkSinks = append(p.chunkSinks, 0)
	}
	// The previous batch's pipelined apply may still occupy the helper
	// (the job's e is this bus then, and the job reads none of ds, slots,
	// first, histFrom or the chunk buffers): check chunks here until it is
	// done, then share the rest.
	if !p.current {
		p.e = e // else the pipelined apply's job holds this bus already
	} else {
		p.hurry.Store(true) // its drain stops polling for pushes
	}
	p.ds, p.slots, p.first, p.histFrom = ds, slots, first, histFrom
	c := 0
	for ; c < chunks && p.current && p.done.Load() != int64(p.units); c++ {
		p.checkEncodeChunk(c)
	}
	p.finish()
	if c < chunks {
		p.e, p.ds, p.slots, p.first, p.histFrom = e, ds, slots, first, histFrom
		p.publish(jobCheckEncode, chunks, c)
		p.finishSync()
	}
	for c := 0; c < chunks; c++ {
		if errors.Is(p.chunkErrs[c], errSerialCheck) {
			p.dropLargeChunkBufs()
			return buf, nil, errSerialCheck // before any error: the serial check reports in batch order
		}
	}
	for c := 0; c < chunks; c++ {
		if err := p.chunkErrs[c]; err != nil {
			p.dropLargeChunkBufs() // a chunk refused as too large may hold up to the limit
			return buf, nil, err   // the first failing chunk holds the lowest bad index
		}
	}
	total := len(buf)
	for c := 0; c < chunks; c++ {
		total += len(p.chunkBufs[c])
	}
	if err := e.checkRecordBytes(total); err != nil {
		p.dropLargeChunkBufs()
		return buf, nil, err // before the chunks are copied into one
	}
	for c := 0; c < chunks; c++ {
		buf = append(buf, p.chunkBufs[c]...)
	}
	p.dropLargeChunkBufs()
	return buf, slots, nil
}

// dropLargeChunkBufs lets go of the chunk buffers once they hold more than
// maxKeptBuf together, as the bus does with its own encoding buffer
// (keepBuf), or are more than a batch of maxKeptOffsets deltas has. The
// chunk buffers of a batch hold its whole encoding: only one larger than
// maxKeptBuf was let go, and a huge batch left the rest, one a chunk (10M
// deltas of 8 bytes: 160 MB in 39,063 buffers, none of them large;
// TestHugeBatchBuffersNotKept). The next batch that large allocates them
// again, as it does its encoding buffer.
func (p *parallelApplier) dropLargeChunkBufs() {
	total := 0
	for _, b := range p.chunkBufs {
		total += cap(b)
	}
	if total > maxKeptBuf || len(p.chunkBufs) > maxKeptOffsets/chunkDeltas {
		p.chunkBufs, p.chunkErrs, p.chunkSinks = nil, nil, nil
	}
}

// errSerialCheck is checkAndEncode's signal that the batch holds a
// CheckEpoch delta and must be checked serially. History entries the
// workers recorded meanwhile are rewritten by the serial check (same
// LSNs, same deltas) or never read if the batch fails.
var errSerialCheck = errors.New("mmsb: batch needs the serial check")

// checkEncodeChunk validates and encodes chunk c of the batch.
func (p *parallelApplier) checkEncodeChunk(c int) {
	e, ds := p.e, p.ds
	lo, hi := c*chunkDeltas, min((c+1)*chunkDeltas, len(ds))
	b := p.chunkBufs[c][:0]
	p.chunkErrs[c] = nil
	// Look the chunk's pages up first, as the serial check does: a short
	// loop keeps many cache misses in flight.
	p.chunkSinks[c] = e.lookupSlots(ds[lo:hi], p.slots[lo:hi])
	for i := lo; i < hi; i++ {
		if ds[i].CheckEpoch {
			p.chunkErrs[c] = errSerialCheck
			break
		}
		sl, err := e.checkDeltaAt(&ds[i], p.slots[i], 0)
		if err != nil {
			p.chunkErrs[c] = fmt.Errorf("batch delta %d: %w", i, err)
			break
		}
		p.slots[i] = sl
		if b, err = appendDeltaBounded(b, &ds[i], i); err != nil {
			// The chunk alone passes the limit: so does the batch.
			p.chunkErrs[c] = err
			break
		}
		if i >= p.histFrom {
			e.recordHistory(p.first+LSN(i), &ds[i], false)
		}
	}
	p.chunkBufs[c] = b
}

// apply runs applyToPage over the batch, sharded by page.
func (p *parallelApplier) apply(e *Bus, ds []delta.Delta, slots []page.Slot, first LSN, now int64) {
	p.e, p.ds, p.slots, p.first, p.now = e, ds, slots, first, now
	shards := len(p.shardIdx)
	for s := range p.shardIdx {
		p.shardIdx[s] = p.shardIdx[s][:0]
	}
	for i, sl := range slots {
		s := int(sl>>shardShift) % shards
		p.shardIdx[s] = append(p.shardIdx[s], int32(i))
	}
	p.run(jobApply, shards)
	// The indices of a huge batch go with it, as its slots do (slotsFor):
	// kept, they were 4 bytes a delta of the largest batch, for the bus's
	// life. So do lists that batches of ordinary size grew past twice
	// that bound together (each batch crowding a different shard).
	kept := 0
	for _, idx := range p.shardIdx {
		kept += cap(idx)
	}
	if len(ds) > maxKeptOffsets || kept > 2*maxKeptOffsets {
		clear(p.shardIdx)
	}
}

// applyShard applies the deltas of page shard s, in batch order.
func (p *parallelApplier) applyShard(s int) {
	e, ds := p.e, p.ds
	if e.shared {
		for _, i := range p.shardIdx[s] {
			e.applyToPage(p.slots[i], &ds[i], p.first+LSN(i), p.now)
		}
		return
	}
	// Bytes, then stamps, as applyBatch does (see there).
	for _, i := range p.shardIdx[s] {
		// Validated against the page's size (checkDeltaAt): Apply cannot
		// refuse it; invariants builds check that.
		if err := delta.Apply(&ds[i], e.store.Bytes(p.slots[i])); invariants.Enabled && err != nil {
			panic(fmt.Sprintf("invariants: validated delta %d does not apply: %v", i, err))
		}
	}
	for _, i := range p.shardIdx[s] {
		e.stampPage(p.slots[i], &ds[i], p.first+LSN(i), p.now)
	}
}

func (p *parallelApplier) close() {
	if p.workers <= 1 || p.quit.Swap(true) {
		return
	}
	for w := 1; w < p.workers; w++ {
		select {
		case p.wake[w] <- struct{}{}:
		default:
		}
	}
}

// pipeRingBytes is the smallest staging ring of a pipelined apply (see
// applyPipelined).
const pipeRingBytes = 4 << 20

// maxKeptRing is the largest staging ring kept once no batch waits in it:
// a ring grows to hold the largest record pipelined (up to the log's 256
// MiB), and was kept that large for the bus's life. Dropped, the next
// pipelined batch makes one of pipeRingBytes (applyPipelined), as settle
// leaves it (dropLargeRing).
const maxKeptRing = 2 * pipeRingBytes

// dropLargeRing lets go of a staging ring larger than maxKeptRing once no
// batch waits in it. Caller holds e.mu exclusively, with no drain running
// (settle).
func (p *parallelApplier) dropLargeRing() {
	if len(p.ring) > maxKeptRing && p.pending() == 0 {
		p.letGoRing()
		// The drain's decoder, and the operation it decoded last, point
		// into the ring too (no drain runs: the caller settled).
		p.dec, p.op = record.Decoder{}, record.Op{}
	}
}

// letGoRing drops the staging ring and the pipeline entries' records in
// it, which would keep it reachable. No batch waits in it: pending is 0.
// Caller holds e.mu exclusively.
func (p *parallelApplier) letGoRing() {
	p.ring, p.ringPos = nil, 0
	for i := range p.pipe {
		p.pipe[i].rec = nil
	}
}

// pipeDepth is how many logged batches may wait for the helper at once.
// With one, a commit waited for the helper to finish the previous batch
// before it handed on its own, so every batch on which either side was
// the slower idled the other: on the 2-core VM the committer was busy
// 86 % of the time and the helper 72 % (docs/benchmarks.md). A second
// batch in the queue lets the faster side run ahead while the slower
// catches up; a third or fourth measured no better.
const pipeDepth = 2

// maxPipeDepth bounds the depth a test or benchmark may pin
// (parallelApplier.depth): the pipeline's entries are an array.
const maxPipeDepth = 4

// pipeBatch is one logged batch waiting in the pipeline: its record (in
// the ring, at pos), first LSN, the first LSN whose history the helper
// records, where its head ends in the record, and its deferred tail
// deltas.
type pipeBatch struct {
	rec            []byte
	pos            int // rec's offset in the ring
	first, histLSN LSN
	headEnd        int
	split          tailSplit
}

// preparing is the pipeline entry of the batch being committed (the
// committer's alone until it is pushed). Caller holds e.mu exclusively.
func (p *parallelApplier) preparing() *pipeBatch {
	return &p.pipe[p.pushed.Load()%uint64(len(p.pipe))]
}

// pending is how many pushed batches are not yet applied. Under e.mu held
// either way it can only fall.
func (p *parallelApplier) pending() int {
	return int(p.pushed.Load() - p.applied.Load())
}

// oldestPending returns the oldest batch not yet applied (nil if none).
// It may be applied as the caller reads it: what it says is a bound,
// never too late. Caller holds e.mu.
func (p *parallelApplier) oldestPending() *pipeBatch {
	a := p.applied.Load()
	if a == p.pushed.Load() {
		return nil
	}
	// Batch a's entry is not reused before batch a+len(pipe) is pushed,
	// which needs a applied: only the caller (the committer) pushes.
	return &p.pipe[a%uint64(len(p.pipe))]
}

// canQueue reports whether a pipelined batch whose record is recLen bytes
// can be pushed behind the batches still waiting, without settling them
// first: the queue has room, no drain failed, the record's copy in the
// staging ring overwrites no waiting batch's (ringFree; a ring too small
// for it is replaced only once none waits), and the history entries the
// committer records for its tail, from LSN tailHist to end, cannot land
// in ring slots that a waiting batch's helper has yet to write
// (historyOverlaps). Caller holds e.mu exclusively.
//
// A full queue with its drain running is waited on first, until the drain
// finishes its oldest batch: the committer goes on as soon as there is
// room, rather than waiting for every batch as a settle would.
func (p *parallelApplier) canQueue(e *Bus, recLen int, tailHist, end LSN) bool {
	for i := 0; p.pending() >= p.depth; i++ {
		if !p.active.Load() {
			return false // no drain runs to make room (it failed): settle
		}
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	if p.failed.Load() {
		return false
	}
	if p.pending() == 0 {
		return true
	}
	historyClash := tailHist < end && p.historyOverlaps(e, end)
	return p.ringFree(recLen) && !historyClash
}

// ringSlot returns where in the ring a record of recLen bytes goes: after
// the last one, or at the ring's start when it does not fit there. A ring
// too small for it is replaced (applyPipelined).
func (p *parallelApplier) ringSlot(recLen int) int {
	if p.ringPos+recLen > len(p.ring) {
		return 0
	}
	return p.ringPos
}

// ringFree reports whether a record of recLen bytes can be copied into
// the ring (ringSlot) without overwriting the record of a batch still
// waiting. Caller holds e.mu exclusively.
func (p *parallelApplier) ringFree(recLen int) bool {
	if recLen > len(p.ring) {
		return false // a new ring: settle first (applyPipelined replaces it)
	}
	lo := p.ringSlot(recLen)
	hi := lo + recLen
	for n, a := p.pushed.Load(), p.applied.Load(); a < n; a++ {
		b := &p.pipe[a%uint64(len(p.pipe))]
		if b.pos < hi && lo < b.pos+len(b.rec) {
			return false
		}
	}
	return true
}

// applyPipelined pushes a validated, logged and stamped batch into the
// pipeline and returns at once: a helper copies the bytes of its head (the
// deltas before tail) and of its deferred tail deltas into the pages,
// after the batches before it, while the committer copies the rest
// (applyTail) and the caller builds its next batch. rec is the batch's
// logged record (header and deltas), which the helper decodes: the record
// is the batch's one copy that outlives the caller's deltas, and decoding
// it costs the helper, which has time to spare, what a separate staging
// list cost the committer.
//
// rec is copied into a ring of at least pipeRingBytes, each batch after
// the last, so that the committer writes lines the helper read many
// batches ago, long gone from its cache. Rewriting one buffer that the
// helper had just read made the committer wait for the other core to give
// up every line of it: on a 2-core AMD EPYC VM, two workers then committed
// fewer deltas per second than one (docs/benchmarks.md). The caller
// checked canQueue, or settled: no record still waiting is overwritten.
//
// The helper also records the head's deltas from histFrom on in the
// write-history ring, as the committer's check would have (first is the
// batch's first LSN; applyTail records the tail's): readers of the ring
// settle first, as readers of page bytes do.
//
// If no drain is running, applyPipelined ends the last one's job and
// starts one; a drain that failed before (a record that did not decode)
// is reported then, and the caller fails the bus. Caller holds e.mu
// exclusively.
func (p *parallelApplier) applyPipelined(e *Bus, rec []byte, first LSN, histFrom, tail int) error {
	if n := max(pipeRingBytes, len(rec)); len(p.ring) < n || (len(p.ring) > maxKeptRing && n <= maxKeptRing && p.pending() == 0) {
		// A new ring: none yet, one too small for rec (the caller
		// settled), or one grown for a large record that no batch
		// waits in any more (see maxKeptRing).
		p.letGoRing()
		p.ring = make([]byte, n)
	}
	p.ringPos = p.ringSlot(len(rec))
	b := p.preparing()
	b.rec, b.pos = p.ring[p.ringPos:p.ringPos+copy(p.ring[p.ringPos:], rec)], p.ringPos
	p.ringPos += len(rec)
	b.first, b.histLSN = first, first+LSN(histFrom)
	b.headEnd = len(rec)
	if tail < len(p.recOffs) {
		b.headEnd = int(p.recOffs[tail])
	}
	if cap(p.recOffs) > maxKeptOffsets {
		p.recOffs = nil // as the encoding buffer: a huge batch's is not kept
	}
	now := time.Now()
	if !p.lastPush.IsZero() {
		p.pushGap.Store(int64(now.Sub(p.lastPush)))
	}
	p.lastPush = now
	p.pushed.Add(1)
	if !p.active.CompareAndSwap(false, true) {
		return nil // a drain is running and will apply it
	}
	// No drain runs: the last one has left its job (or there was none).
	p.finish()
	if p.applyErr != nil {
		return p.applyErr
	}
	p.e = e
	p.publish(jobApplyWrites, 1, 0)
	return nil
}

// tailSplit is the deferred tail deltas of a split pipelined batch: their
// offsets in the record (for the helper) and their batch indices (for the
// committer to skip), in batch order.
type tailSplit struct{ offs, idx []int32 }

// maxKeptOffsets is the most record offsets (stampSplit's recOffs, 4
// bytes a delta) kept between pipelined batches: a batch of millions of
// deltas would otherwise leave its offsets with the bus for its life.
const maxKeptOffsets = 1 << 18

// initialShare is the helper's part of a pipelined batch when a bus
// opens, in 64ths (adaptShare moves it).
const initialShare = 48

// maxDeferred is the most tail deltas of a pipelined batch that may wait
// for the head (stampSplit): past it the batch is not split, so that the
// committer's scan of the deferred pages stays short.
const maxDeferred = 64

// stampSplit stamps a pipelined batch's pages and deltas (epoch, LSN,
// time) in batch order and chooses where it splits: the helper applies
// the deltas before the returned index (the head), the committer those
// from it on (the tail, applyTail), at the same time. A tail delta whose
// page the head or a batch still waiting in the pipeline writes too must
// be applied after them, by the helper (deferred), and so must every
// later delta to that page; the other tail pages are the committer's
// alone. A page's last-write LSN before its stamp says whether such a
// batch wrote it: it is at or after the oldest waiting batch's first LSN
// (or this batch's), before the tail, or in the tail at a deferred
// delta. Too many deferred deltas (a batch of few hot pages) and the
// helper takes the whole batch. The split changes who copies which
// bytes, never the state: each page's deltas are applied by one goroutine
// at a time, in LSN order. Caller holds e.mu exclusively.
func (p *parallelApplier) stampSplit(e *Bus, ds []delta.Delta, slots []page.Slot, first LSN, now int64) int {
	share := p.share
	if p.fixedShare >= 0 {
		share = p.fixedShare
	}
	tail := len(ds) * share / 64
	for i := range ds[:tail] {
		e.stampPage(slots[i], &ds[i], first+LSN(i), now)
	}
	sp := &p.preparing().split
	sp.offs, sp.idx = sp.offs[:0], sp.idx[:0]
	headEnd := first + LSN(tail)
	from := first
	if b := p.oldestPending(); b != nil {
		from = b.first
	}
	for i := tail; i < len(ds); i++ {
		sl := slots[i]
		prev := e.store.LastLSN(sl)
		e.stampPage(sl, &ds[i], first+LSN(i), now)
		if prev < from {
			continue // written by no batch the helper has yet to apply
		}
		if prev >= headEnd && !p.deferredSlot(slots, sl) {
			continue // written earlier in the tail, by the committer
		}
		if len(sp.idx) == maxDeferred {
			for j := i + 1; j < len(ds); j++ {
				e.stampPage(slots[j], &ds[j], first+LSN(j), now)
			}
			sp.offs, sp.idx = sp.offs[:0], sp.idx[:0]
			return len(ds)
		}
		sp.offs = append(sp.offs, p.recOffs[i])
		sp.idx = append(sp.idx, int32(i))
	}
	return tail
}

// deferredSlot reports whether slot sl has a deferred delta in the batch
// being split.
func (p *parallelApplier) deferredSlot(slots []page.Slot, sl page.Slot) bool {
	for _, i := range p.preparing().split.idx {
		if slots[i] == sl {
			return true
		}
	}
	return false
}

// adaptShare moves the helper's share of the next pipelined batches
// toward the split where neither side waits for the other: one 64th less
// if the queue is full now (the committer would wait for the helper), one
// more if it is empty while a drain runs (the helper waits for the
// committer). Called by the committer before it pushes. Caller holds
// e.mu exclusively.
func (p *parallelApplier) adaptShare() {
	if !p.current || p.job != jobApplyWrites {
		return
	}
	switch n := p.pending(); {
	case n >= p.depth:
		p.share = max(p.share-1, 0)
	case n == 0:
		p.share = min(p.share+1, 64)
	}
}

// applyTail copies the tail of the pipelined batch just pushed (deltas
// from tail on, but the deferred ones) into their pages, from the
// caller's deltas, while a helper applies the head, and records the
// tail's history (deferred deltas included: the helper records only the
// head's). Caller holds e.mu exclusively.
func (p *parallelApplier) applyTail(e *Bus, ds []delta.Delta, slots []page.Slot, first LSN, tail int) {
	st := e.store
	pushed := &p.pipe[(p.pushed.Load()-1)%uint64(len(p.pipe))]
	k, skip := 0, pushed.split.idx
	for i := tail; i < len(ds); i++ {
		if k < len(skip) && int(skip[k]) == i {
			k++
			continue
		}
		// checkDeltaAt validated ds[i] against this page's size.
		_ = delta.Apply(&ds[i], st.Bytes(slots[i]))
	}
	if e.hist != nil {
		for i := max(tail, e.historyFrom(len(ds))); i < len(ds); i++ {
			e.recordHistory(first+LSN(i), &ds[i], false)
		}
	}
}

// historyOverlaps reports whether a pipelined batch still waiting has
// history entries to record (its head's, from its histLSN) that share
// ring slots with entries for LSNs before end (the ring holds len(e.hist)
// consecutive LSNs: the waiting batches' and the next batch's entries
// collide once they span more, and the helper would then write an older
// entry over a newer one). Caller holds e.mu.
func (p *parallelApplier) historyOverlaps(e *Bus, end LSN) bool {
	b := p.oldestPending()
	return b != nil && e.hist != nil && end > b.histLSN+LSN(len(e.hist))
}

// applyGroup is how many decoded runs applyWrites gathers before it
// copies them: a loop of copies alone keeps many page cache misses in
// flight, which copying after each decode (a long loop body) did not.
const applyGroup = 64

// pageWrite is one decoded run: data goes to offset off of page slot.
type pageWrite struct {
	slot page.Slot
	off  uint32
	data []byte
}

// drain is a jobApplyWrites unit: it applies pushed batches in push order
// until none is left, then polls for the next push for about twice the
// time between the last two (at most maxIdleSpin, and not once someone
// waits for it: hurry) before it ends. It ends with active false, after a
// last look at pushed: a push after that look finds active false and
// starts the next job (applyPipelined), a push before it is applied here.
// A batch that fails stops the drain (applyErr, failed).
func (p *parallelApplier) drain() {
	for {
		n := p.applied.Load()
		if n == p.pushed.Load() && !p.awaitPush(n) {
			p.active.Store(false)
			if p.pushed.Load() == n || !p.active.CompareAndSwap(false, true) {
				return
			}
			continue // pushed meanwhile, and no new job was started for it
		}
		if p.applyErr == nil {
			p.applyErr = p.applyWrites(&p.pipe[n%uint64(len(p.pipe))])
		}
		if p.applyErr != nil {
			p.failed.Store(true)
			p.active.Store(false)
			return
		}
		p.applied.Store(n + 1)
	}
}

// awaitPush polls until batch n is pushed (true), or for about twice the
// time between the last two pushes, or until someone waits for the drain
// (false).
func (p *parallelApplier) awaitPush(n uint64) bool {
	spin := idleSpin(time.Duration(p.pushGap.Load()))
	if spin == 0 {
		return false
	}
	deadline := time.Now().Add(spin)
	for i := 0; ; i++ {
		if p.pushed.Load() != n {
			return true
		}
		if p.hurry.Load() || p.quit.Load() {
			return false
		}
		if i%64 == 63 {
			if time.Now().After(deadline) {
				return false
			}
			runtime.Gosched()
		}
	}
}

// applyWrites decodes a pipelined batch's head from its record and copies
// each delta into its page, in batch order, then the deferred tail
// deltas. A record that does not decode (it was encoded by this process
// and validated: a bug) stops the apply with an error; the committer
// fails the bus with it (Bus.settle).
func (p *parallelApplier) applyWrites(b *pipeBatch) error {
	if p.holdApplyWrites != nil {
		p.holdApplyWrites(b.rec)
	}
	e := p.e
	st := e.store
	if err := p.dec.Reset(b.rec); err != nil {
		return err
	}
	p.dec.Window(p.dec.Offset(), b.headEnd)
	var group [applyGroup]pageWrite
	n := 0
	lsn, histLSN := b.first, b.histLSN
	flush := func() {
		for _, w := range group[:n] {
			_ = delta.ApplyRun(&delta.Run{Offset: w.off, Data: w.data}, st.Bytes(w.slot))
		}
		n = 0
	}
	for ; p.dec.More(); lsn++ {
		id, off, data, ok := p.dec.NextRun()
		if !ok {
			// Any other delta (masked, several runs, an intent): decoded
			// in full and applied at once.
			flush()
			if err := p.applyOp(st); err != nil {
				return err
			}
			if lsn >= histLSN {
				e.recordHistory(lsn, &p.op.Delta, false)
			}
			continue
		}
		if lsn >= histLSN && e.hist != nil {
			e.recordWrite(lsn, id, off, off+uint32(len(data)), false)
		}
		sl, found := st.Lookup(id)
		if !found || uint64(off)+uint64(len(data)) > uint64(st.Size(sl)) {
			return fmt.Errorf("run [%d, +%d) of page %d: no such page or past its end", off, len(data), id)
		}
		if n == applyGroup {
			flush()
		}
		group[n] = pageWrite{slot: sl, off: off, data: data}
		n++
	}
	flush()
	// The tail deltas whose pages the head (or a batch before it) wrote
	// too, after it (their history is the committer's).
	for _, off := range b.split.offs {
		p.dec.Window(int(off), len(b.rec))
		if err := p.applyOp(st); err != nil {
			return err
		}
	}
	return nil
}

// applyOp decodes the record's next operation in full and applies it: a
// delta that applyWrites' fast path does not read.
func (p *parallelApplier) applyOp(st *page.Store) error {
	if err := p.dec.Next(&p.op); err != nil {
		return err
	}
	d := &p.op.Delta
	sl, ok := st.Lookup(d.Page)
	if p.op.Kind != record.OpDelta || !ok {
		return fmt.Errorf("op %s on page %d in a pipelined batch", p.op.Kind, d.Page)
	}
	b := st.Bytes(sl)
	if err := delta.Validate(d, len(b)); err != nil {
		return fmt.Errorf("page %d: %w", d.Page, err)
	}
	return delta.Apply(d, b)
}
