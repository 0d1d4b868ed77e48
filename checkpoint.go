package mmsb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/vfs"
)

// keepCheckpoints is how many checkpoints are retained. Log segments are
// removed only once the OLDEST retained checkpoint covers them, so a corrupt
// newest checkpoint can always fall back to the previous one plus the log.
const keepCheckpoints = 2

// CheckpointInfo describes a checkpoint taken.
type CheckpointInfo struct {
	Path            string        // the file, as the bus's vfs.FS names it (an in-memory bus's is no OS path)
	LSN             LSN           // every operation up to and including it is in the checkpoint
	Pages           int           // pages it holds
	Bytes           int64         // size of the file
	Duration        time.Duration // wall time taken, pacing (Options.CheckpointWriteRate) included
	SegmentsRemoved int           // log segments removed because the checkpoints kept now cover them
}

// Checkpoint writes a full snapshot (pages in ID order, metadata, flags,
// edges, bindings, counters and the LSN covered) atomically, then removes
// old checkpoints and the log segments the oldest retained one covers.
//
// Commits go on while the pages are written: the snapshot is taken at one
// LSN (under the lock: page IDs, graph, bindings, counters), and a commit
// that is about to change a page the checkpoint has not written yet first
// keeps the bytes it overwrites (copy on write). The checkpoint copies
// pages without holding the bus lock and rolls those it finds changed back
// to the snapshot. Extra memory is bounded by the bytes changed while the
// checkpoint runs.
//
// A ctx that ends before the checkpoint is committed stops it between two
// ranges of pages: it returns ctx's error and leaves no file, and is not
// counted as a failed checkpoint (Stats). One checkpoint runs at a time: a
// call made while another runs waits for it, until ctx ends. Close stops a
// running checkpoint the same way, automatic or not, and the call returns
// ErrClosed (the log holds everything it would have); on a bus without a
// log (Options.DisableLog) Close waits for it instead.
//
// Errors: ErrClosed; ErrFailed when the bus has failed, or when the log's
// fsync that must precede the checkpoint fails (which fails the bus). A
// checkpoint file that cannot be written returns an error wrapping the
// filesystem's, counted in Stats.CheckpointFailures; the bus goes on, and
// its earlier checkpoints and log still recover it. A file or Options.FS
// that panics while the checkpoint is written or pruned fails it the same
// way, the panic returned as an error naming its value, and so does a
// panic out of the bus's own checkpoint code (a defect): the bus's lock is
// released and the bus goes on. A checkpoint written whose cleanup then
// failed returns its CheckpointInfo with the error.
func (e *Bus) Checkpoint(ctx context.Context) (CheckpointInfo, error) {
	if err := checkCtx(ctx, "Bus.Checkpoint"); err != nil {
		return CheckpointInfo{}, err
	}
	return e.checkpoint(ctx)
}

// checkpoint is Checkpoint, with named results for its deferred recover.
func (e *Bus) checkpoint(ctx context.Context) (info CheckpointInfo, err error) {
	// The context was ignored: a caller who gave up (a server request
	// whose client went away) still had a whole checkpoint written, paced
	// at CheckpointWriteRate (16 s a gigabyte at the default).
	if err := ctx.Err(); err != nil {
		return CheckpointInfo{}, err
	}
	// The wait for a checkpoint already running (an automatic one, paced,
	// can take minutes) ends with ctx too: it did not, and a caller whose
	// deadline passed meanwhile stayed blocked until that checkpoint
	// ended, then took a snapshot and an fsync of the log before its ctx
	// was looked at again (TestCheckpointContextEndsWaitForRunning).
	if err := e.ckptMu.LockContext(ctx); err != nil {
		return CheckpointInfo{}, err
	}
	defer e.ckptMu.Unlock()
	// A panic out of the bus's own code where this holds no lock of the
	// bus's (readying the scratch and the pool, handing copy on write's
	// memory back, pruning) is the checkpoint's failure, as one under the
	// lock is (snapshotLocked, writeCheckpoint): on the automatic
	// checkpoint's goroutine it ended the process, and an explicit caller
	// got a panic where the same failure elsewhere is an error
	// (TestCheckpointUnlockedPanicIsFailure). cowOn says copy on write is
	// on for this checkpoint, to turn off; pruning that the checkpoint is
	// written, and returned with the error as a failed prune's is. The one
	// panic let through is a broken invariant's (invariants builds): it
	// must end the run.
	cowOn, pruning, broken := false, false, false
	defer func() {
		if v := recover(); v != nil {
			if broken {
				panic(v)
			}
			if !pruning {
				info = CheckpointInfo{}
			}
			err = e.checkpointRecovered(v, cowOn)
		}
	}()
	if err := ctx.Err(); err != nil {
		return CheckpointInfo{}, err // ended as the lock came free
	}
	// Close stops the checkpoint (through ctx) unless the bus has no log.
	ctx, stop := e.cancelOnClose(ctx)
	defer stop()
	if errors.Is(context.Cause(ctx), ErrClosed) {
		return CheckpointInfo{}, ErrClosed // Close began before the lock came free
	}
	e.ckptWriting.Store(true)
	defer e.ckptWriting.Store(false)
	start := time.Now()
	// Memory the snapshot and copy on write will touch is faulted in here,
	// before the lock and before commits start saving pages.
	pages, nextID, logical := e.scratchSizes()
	e.ckptScratch.prepare(pages, nextID, logical)
	if e.ckptPool == nil {
		e.ckptPool = newCowBlockPool(logical)
	}
	pool := e.ckptPool
	pool.fill(cap(pool))
	if e.ckptUnlockedHook != nil {
		e.ckptUnlockedHook("prepare")
	}
	e.lockSettled()
	if err := e.usable(); err != nil {
		e.mu.Unlock()
		return CheckpointInfo{}, err
	}
	snap, err := e.snapshotLocked(pool)
	if err != nil {
		var logBytes uint64
		if e.log != nil {
			logBytes = e.log.Stats().Bytes
		}
		e.mu.Unlock()
		e.noteCheckpointFailure(err, logBytes)
		return CheckpointInfo{}, err
	}
	cowOn = true
	// The log's size at the snapshot: the next automatic checkpoint is due
	// once the log has grown CheckpointBytes past what this one covers.
	// The size when it ended was kept instead, so the log written while a
	// checkpoint ran (all of it, for a slow one) was not counted: the next
	// one started a whole CheckpointBytes after the end, and the log past
	// the newest checkpoint reached CheckpointBytes plus a checkpoint's
	// duration of commits before it began (TestCheckpointDueCountsLogWrittenDuring).
	var snapLogBytes uint64
	if e.log != nil {
		snapLogBytes = e.log.Stats().Bytes
	}
	e.mu.Unlock()
	defer func() { e.ckptScratch.ids = snap.ids[:0] }() // AppendIDs may have grown it

	// The log must durably hold everything the checkpoint covers, so that
	// the log never ends before a checkpoint's LSN. The fsync runs outside
	// the bus lock (commits go on; the log orders its own syncs): only the
	// checkpoint's commit, below, depends on it.
	if e.log != nil {
		if err := e.log.Sync(); err != nil {
			e.lockSettled()
			e.cow = nil
			err = e.fail(err)
			e.mu.Unlock()
			return CheckpointInfo{}, err
		}
	}

	info, err = e.writeCheckpoint(ctx, snap, pool)
	if err == nil && invariants.Enabled {
		// Read back what was just written: every frame and the trailer.
		// Only damage is a broken invariant; a read that fails (an I/O
		// error, injected by the fault sweep) says nothing of the bytes.
		// Here, not in writeCheckpoint, whose panics are the checkpoint's
		// failure: a broken invariant must end the run.
		if err := checkpoint.Verify(e.fs, info.Path); errors.Is(err, corruption.ErrCorruption) {
			broken = true
			panic(fmt.Sprintf("invariants: checkpoint %s does not verify: %v", info.Path, err))
		}
	}

	done, logBytes := e.endCow()
	cowOn = false
	if done != nil {
		// Nothing reads the kept bytes and records any more.
		e.ckptScratch.blocks = done.blocks.recycle()
		e.ckptScratch.pageChunks = done.pages.release()
		e.ckptScratch.undoChunks = done.undos.release()
	}
	if e.ckptUnlockedHook != nil {
		e.ckptUnlockedHook("recycle")
	}
	if err != nil {
		// A checkpoint its caller cancelled did not fail: counted, it
		// would delay the next automatic one and bring the log's growth
		// bound (logBoundErr) closer.
		cerr := ctx.Err()
		if cerr == nil || !errors.Is(err, cerr) {
			e.noteCheckpointFailure(err, logBytes)
		} else if errors.Is(context.Cause(ctx), ErrClosed) {
			return info, ErrClosed // stopped by Close, not by its caller
		}
		return info, err
	}
	e.ckptStatMu.Lock()
	e.lastCkptLSN = info.LSN
	e.checkpointCount++
	e.ckptStatMu.Unlock()
	e.lastCkptBytes.Store(snapLogBytes)
	e.lastCkptTime.Store(time.Now().UnixNano())
	pruning = true
	if e.ckptUnlockedHook != nil {
		e.ckptUnlockedHook("prune")
	}
	if err := e.pruneAfterCheckpoint(&info); err != nil {
		// The checkpoint is good but the log it covers stays: count it, so
		// that a log that is never trimmed shows.
		e.noteCheckpointFailure(err, logBytes)
		return info, err
	}
	e.ckptFailStreak.Store(0)
	info.Duration = time.Since(start)
	e.met.ckptNanos.Observe(int64(info.Duration))
	e.met.ckptBytes.Store(info.Bytes)
	return info, nil
}

// cancelOnClose returns ctx, ended with cause ErrClosed once Close begins,
// and the function that releases it; the caller holds ckptMu, so one
// checkpoint at a time registers. A checkpoint Close would otherwise wait
// for (paced at CheckpointWriteRate: 16 s a gigabyte at the default) adds
// nothing the log does not hold, and a service manager kills a process that
// takes longer than its stop timeout to close (90 s for systemd). A bus
// without a log (DisableLog) keeps its state only in checkpoints: its
// checkpoint is left to finish (Close waits for it).
func (e *Bus) cancelOnClose(ctx context.Context) (context.Context, func()) {
	if e.log == nil {
		return ctx, func() {}
	}
	c, cancel := context.WithCancelCause(ctx)
	e.ckptStartMu.Lock()
	if e.closing {
		cancel(ErrClosed)
	} else {
		e.ckptCancel = cancel
	}
	e.ckptStartMu.Unlock()
	return c, func() {
		e.ckptStartMu.Lock()
		e.ckptCancel = nil
		e.ckptStartMu.Unlock()
		cancel(nil)
	}
}

// ctxMutex is a mutex whose Lock can give up when a context ends
// (LockContext): Bus.ckptMu, held for a checkpoint's whole duration. The
// zero value is unlocked. A channel of one token: waiters queue in order.
type ctxMutex struct {
	once sync.Once
	ch   chan struct{}
}

func (m *ctxMutex) sem() chan struct{} {
	m.once.Do(func() { m.ch = make(chan struct{}, 1) })
	return m.ch
}

// Lock waits for the mutex.
func (m *ctxMutex) Lock() { m.sem() <- struct{}{} }

// LockContext waits for the mutex until ctx ends, and then returns ctx's
// error without it.
func (m *ctxMutex) LockContext(ctx context.Context) error {
	select {
	case m.sem() <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TryLock takes the mutex if it is free.
func (m *ctxMutex) TryLock() bool {
	select {
	case m.sem() <- struct{}{}:
		return true
	default:
		return false
	}
}

// Unlock releases the mutex; it panics if the mutex is not locked, as
// sync.Mutex does.
func (m *ctxMutex) Unlock() {
	select {
	case <-m.sem():
	default:
		panic("mmsb: unlock of an unlocked ctxMutex")
	}
}

// CheckpointRunning reports whether a checkpoint, automatic or explicit,
// is being taken now: commits then keep, for it, the bytes they overwrite
// in pages it has not written yet (see Checkpoint). An automatic
// checkpoint counts from the commit that started it, before its goroutine
// reaches the snapshot, so that a caller who waits for CheckpointRunning
// to turn false after its last commit also waits for a checkpoint that
// commit started. Two atomic loads; meant for telling the latency of
// commits that overlapped a checkpoint from that of the others, and for
// waiting for the last one (mmsb bench does both).
func (e *Bus) CheckpointRunning() bool { return e.ckptWriting.Load() || e.ckptRunning.Load() }

// noteCheckpointFailure records a failed checkpoint (Stats) and delays the
// next automatic attempt by a full CheckpointBytes or CheckpointInterval,
// so that a persistent failure is not retried at every commit. logBytes is
// the log's size when the checkpoint ended.
func (e *Bus) noteCheckpointFailure(err error, logBytes uint64) {
	e.ckptStatMu.Lock()
	e.ckptFailures++
	e.ckptLastErr = err
	e.ckptStatMu.Unlock()
	e.ckptFailStreak.Add(1)
	e.ckptRetryBytes.Store(logBytes)
	e.ckptRetryTime.Store(time.Now().UnixNano())
}

// checkpointStallFactor bounds the log's growth while checkpoints fail: see
// Options.CheckpointBytes.
const checkpointStallFactor = 4

// logBoundErr returns ErrCheckpointFailing when checkpoints have failed
// since the last success and the log has grown past its bound since then.
// Automatic checkpoints must be on: with only explicit checkpoints the
// caller sees each failure and manages the log itself. The common case
// costs one atomic load. Caller holds e.mu.
func (e *Bus) logBoundErr() error {
	if e.ckptFailStreak.Load() == 0 || e.log == nil || !e.autoCheckpoints() {
		return nil
	}
	per := e.opts.CheckpointBytes
	if per <= 0 {
		per = defaultCheckpointBytes
	}
	// Saturate: a huge CheckpointBytes (meaning "practically never by
	// size") wrapped the product, down to 0 for 2^62, and refused every
	// write after one failed checkpoint.
	bound := uint64(math.MaxUint64)
	if uint64(per) <= math.MaxUint64/checkpointStallFactor {
		bound = checkpointStallFactor * uint64(per)
	}
	grown := e.log.Stats().Bytes - e.lastCkptBytes.Load()
	if grown < bound {
		return nil
	}
	e.ckptStatMu.Lock()
	last := e.ckptLastErr
	e.ckptStatMu.Unlock()
	return fmt.Errorf("%w: the log grew %d bytes since the last successful checkpoint (bound %d); last failure: %w",
		ErrCheckpointFailing, grown, bound, last)
}

// autoCheckpoints reports whether automatic checkpoints are on.
func (e *Bus) autoCheckpoints() bool {
	return e.opts.CheckpointBytes >= 0 || e.opts.CheckpointInterval > 0
}

// snapshot is what a checkpoint covers, taken at one LSN.
type snapshot struct {
	state    record.State
	ids      []PageID // live pages at the LSN, ascending
	edges    []graph.Edge
	bindings []PageID
	binds    map[PageID]Binding
	// pending is the dirty set at the LSN (pages written and not yet
	// propagated), in the order the bus keeps it; sorted when written.
	pending []PageID
	// recompute is the derived pages the next wave computes whether or not
	// a parent changed (Bus.recompute and the propagator's retry set,
	// bound ones only), sorted and deduplicated when written.
	recompute []PageID
	// bytesHint is about the size of the checkpoint file.
	bytesHint int64
}

// ckptScratch is memory each checkpoint reuses from the last (guarded by
// ckptMu): the snapshot's ID list and the copy-on-write index, 12 bytes
// per page kept between checkpoints. Fresh memory costs a page fault per
// 4 KiB on its first touch (1.5–5 µs each on the 2-core VM); taken under
// the bus lock, or by the first commit's copy on write, those faults made
// most of a 27 ms commit at the start of a 1M-page checkpoint.
type ckptScratch struct {
	ids   []PageID
	dense []int32
	// One range's copies of live pages and their images (writeCheckpoint).
	stage []byte
	imgs  []record.PageImage
	// The last checkpoint's copy on write blocks (beyond the pool's) and
	// zeroed record chunks, for the next one's (see cowBlocks.recycle
	// and chunked.release).
	blocks     [][]byte
	pageChunks [][]cowPage
	undoChunks [][]cowUndo
}

// reserve makes room in the scratch for about pages live pages with IDs
// below nextID and logical bytes of them, faulting in what it allocates.
// Page creation calls it (Bus.reserveCheckpointScratch), so that a
// checkpoint finds its scratch ready: faulting in tens of megabytes when
// a 1M-page checkpoint started took 4-50 ms, and log fsyncs issued
// meanwhile took as long on the 2-core VM (a 44 ms commit in about one run
// in three, docs/benchmarks.md). Arrays grow by at least a quarter, so
// that a bus created a batch at a time reallocates them a few times, not
// once per batch. The dense index is kept only while IDs are dense enough
// (see cowDenseSlack). A small bus gets small buffers: its checkpoints
// must stay as cheap as its pages.
func (s *ckptScratch) reserve(pages int, nextID PageID, logical int64) {
	if want := pages + pages/8 + 1024; cap(s.ids) < want {
		s.ids = make([]PageID, max(want, cap(s.ids)+cap(s.ids)/4))
		clear(s.ids) // fault in now, not under the bus lock
		s.ids = s.ids[:0]
	}
	// A range ends past ckptRangeBytes by less than a page (at most
	// largePage, above which a page is copied in step 1 anyway).
	if want := int(min(ckptRangeBytes+1<<20, logical+4096)); cap(s.stage) < want {
		s.stage = make([]byte, max(want, min(cap(s.stage)+cap(s.stage)/4, ckptRangeBytes+1<<20)))
		clear(s.stage)
		s.stage = s.stage[:0]
	}
	if want := min(ckptRangePages, pages+1); len(s.imgs) < want {
		s.imgs = make([]record.PageImage, max(want, min(len(s.imgs)+len(s.imgs)/4, ckptRangePages)))
	}
	if uint64(nextID) >= 4*uint64(pages)+cowDenseSlack {
		s.dense = nil
		return
	}
	if want := int(nextID) + int(nextID)/8 + 1024; len(s.dense) < want {
		s.dense = make([]int32, max(want, len(s.dense)+len(s.dense)/4))
		clear(s.dense) // fault in
	}
}

// reserveCheckpointScratch grows the checkpoint scratch to the bus's size
// after pages are created, on the creating goroutine and outside the bus
// lock (see ckptScratch.reserve), when automatic checkpoints are on: a
// checkpoint is then certain to come, and the scratch, 12-15 bytes per
// page, stays from one checkpoint to the next anyway. A bus without them
// sizes it at its first explicit checkpoint. A running checkpoint holds
// ckptMu and sizes its own scratch: then this does nothing.
func (e *Bus) reserveCheckpointScratch() {
	if !e.autoCheckpoints() || !e.ckptMu.TryLock() {
		return
	}
	defer e.ckptMu.Unlock()
	e.ckptScratch.reserve(e.scratchSizes())
}

// scratchSizes returns what the checkpoint scratch is sized by, read
// under e.mu held shared. The lock is released by a deferred call: a
// panic here (a defect, made by a test hook, "sizes") is the checkpoint's
// failure with the lock free, where it left the read lock held and every
// later commit and Close waited for ever (TestCheckpointStepPanicIsFailure).
// Once a checkpoint or a page creation, not a commit.
func (e *Bus) scratchSizes() (pages int, nextID PageID, logical int64) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	if e.ckptLockedHook != nil {
		e.ckptLockedHook("sizes")
	}
	return e.store.Len(), e.nextID, e.store.Stats().LogicalBytes
}

// endCow turns copy on write off once the checkpoint's file is written
// and returns its state, for the checkpoint to hand its memory back, with
// the log's size. e.mu is held exclusively and released by a deferred
// call, as in scratchSizes (test hook step "cow-off").
func (e *Bus) endCow() (done *cowState, logBytes uint64) {
	e.lockSettled()
	defer e.mu.Unlock()
	done, e.cow = e.cow, nil
	if e.ckptLockedHook != nil {
		e.ckptLockedHook("cow-off")
	}
	if e.log != nil {
		logBytes = e.log.Stats().Bytes
	}
	return done, logBytes
}

// prepare readies the scratch for a checkpoint (reserve, then reset).
func (s *ckptScratch) prepare(pages int, nextID PageID, logical int64) {
	s.reserve(pages, nextID, logical)
	s.ids = s.ids[:0]
	if s.dense != nil {
		clear(s.dense) // reused: reset
	}
}

// cowBlockPool hands copy on write pre-faulted blocks for the bytes it
// keeps: the checkpoint's goroutine faults them in ahead of need (fill),
// and a commit takes one without waiting (take), allocating only when the
// pool is empty. A fresh 4 MiB block costs its first user 1,024 page
// faults, 2–5 ms on the 2-core VM, under the commits' lock.
type cowBlockPool chan []byte

// cowPoolBlocks is the most blocks a pool holds. Early in a checkpoint of
// random pages a commit of 1,000 16-byte deltas keeps about 16 KiB, so a
// block lasts some 250 commits and the checkpoint refills one per range.
const cowPoolBlocks = 2

// newCowBlockPool returns a pool for a bus of logicalBytes of pages: none
// below cowPoolMinBytes, where a block's faults cost less than faulting it
// in ahead would delay a small bus's checkpoint.
func newCowBlockPool(logicalBytes int64) cowBlockPool {
	if logicalBytes < cowPoolMinBytes {
		return nil // take on a nil channel allocates
	}
	return make(cowBlockPool, cowPoolBlocks)
}

// cowPoolMinBytes is the bus size from which blocks are faulted in ahead.
const cowPoolMinBytes = 64 << 20

// fill adds up to n faulted-in blocks, never more than the pool holds.
//
// A block is faulted in a piece at a time, with a Gosched between pieces:
// where a page fault costs ~20 µs (a 2-core AMD EPYC VM), one 4 MiB block
// took 20 ms, and Go's scheduler let it run on while a preempted commit
// waited for a processor that long (traced: docs/benchmarks.md).
func (p cowBlockPool) fill(n int) {
	for ; n > 0 && len(p) < cap(p); n-- {
		b := make([]byte, cowBlockBytes)
		for lo := 0; lo < len(b); lo += cowFillPiece {
			clear(b[lo : lo+cowFillPiece]) // fault in here, on the checkpoint's goroutine
			runtime.Gosched()
		}
		p <- b[:0]
	}
}

// cowFillPiece is how much of a block fill faults in before it lets other
// goroutines run: 1 ms or so where faults are slowest.
const cowFillPiece = 256 << 10

// take returns an empty block, pre-faulted if one is ready; else a fresh
// one of size bytes, or of at most cowMissBytes when the pool is empty
// (not nil): Go zeroes a large allocation that reuses freed memory, and
// where that memory was given back to the kernel each 4 KiB page costs a
// fault, so a fresh 4 MiB block cost the commit that took it 17 ms on the
// 2-core AMD EPYC VM (traced: docs/benchmarks.md) while the checkpoint,
// slowed by its own first writes, had not refilled the pool.
func (p cowBlockPool) take(size int) []byte {
	select {
	case b := <-p:
		return b
	default:
		if p != nil {
			size = min(size, cowMissBytes)
		}
		return make([]byte, 0, size)
	}
}

// cowMissBytes is the largest block a commit allocates itself: 16 pages,
// 0.3 ms where faults are slowest.
const cowMissBytes = 64 << 10

// cowState is the copy-on-write bookkeeping of a running checkpoint.
// Guarded by e.mu: commits change it under the write lock, the checkpoint
// writer reads it (and advances written) under the read lock. What was
// kept of a page is final once the page is below nextUnwritten: no commit
// keeps anything for it any more, so the writer reads those records
// without the lock (see frozen).
//
// It keeps an undo log rather than page copies: the first change to a
// snapshot page the checkpoint has not written yet keeps the page's
// scalars and metadata (cowPage), and every change to its bytes keeps the
// bytes it overwrites (cowUndo, newest first per page). The checkpoint
// rolls the live bytes back through them. A delta of 16 bytes keeps 16
// bytes, not the page: at 1M pages of 1 KiB a checkpoint used to copy
// about 300 MiB of pages under the commits' lock, faulting in fresh
// memory as it went. Freeing a page keeps its whole image (rolled back).
//
// The common cases cost no lookup: a page below nextUnwritten is written
// already (or not in the snapshot).
type cowState struct {
	snap    *snapshot
	written int // pages of snap.ids already written (a prefix: IDs ascend)
	// nextUnwritten is snap.ids[written], or the largest ID once every page
	// is written.
	nextUnwritten PageID
	// A touched page's entry (see entry): by ID in dense (4 bytes per ID,
	// no hashing and no map growth under the commits' lock) and in sparse
	// beyond it.
	dense  []int32
	sparse map[PageID]int32
	pages  chunked[cowPage]
	undos  chunked[cowUndo]
	bigs   chunked[[]byte] // the bytes of undo records too large to hold them (in blocks)
	blocks cowBlocks
	sink   uint64 // see warm
}

// cowPage is what copy on write kept of one page. It is small (32 bytes)
// because nearly every page a commit touches while a checkpoint of random
// pages runs gets one, in new memory during a process's first checkpoint
// (a 120-byte record with the image inline cost about 30 page faults per
// commit of 1,000 deltas, on the commit's path); the full image, needed
// only when a page's flags or metadata change or it is freed, is
// allocated apart.
type cowPage struct {
	// While partial: the page's epoch and last-write LSN at the snapshot,
	// all a delta can change besides its bytes.
	epoch   base.Epoch
	lastLSN LSN
	// img is the page at the snapshot once a full touch kept it: scalars
	// and metadata, Data only once the page is kept whole (its entry is
	// negative: later changes keep nothing). Nil while partial.
	img     *record.PageImage
	undo    int32 // newest undo record + 1; 0: none
	skip    bool  // not in the snapshot (created after it): nothing to keep
	partial bool  // only epoch and lastLSN are kept (see cowTouch)
}

// cowUndo is the bytes one change overwrote: n bytes at off, in data when
// they fit (a delta of up to 16 bytes, the common one), else in the
// cowState's bigs at big-1. Kept inline, a roll back step loads one
// record instead of a record and then the bytes it points at (two cache
// misses one after the other), and a commit writes one record instead of
// a record and the bytes in a block; the record stays 32 bytes (a slice
// header took the room the bytes take now).
type cowUndo struct {
	prev int32 // the page's previous (older) undo record + 1; 0: none
	off  uint32
	n    uint32
	big  int32 // 0: the bytes are in data; else their index in bigs + 1
	data [cowInline]byte
}

// cowInline is how many overwritten bytes an undo record holds itself.
const cowInline = 16

// cowDenseSlack bounds the dense index: used while IDs stay below
// 4 × pages + cowDenseSlack.
const cowDenseSlack = 1 << 16

// newCowState starts copy on write for snapshot s; dense is a zeroed
// index by ID (IDs beyond it go to a map) and pool supplies kept bytes.
func newCowState(s *snapshot, dense []int32, pool cowBlockPool) *cowState {
	c := &cowState{snap: s, dense: dense, blocks: cowBlocks{pool: pool}}
	c.advance(0)
	return c
}

// entry returns page id's entry in the index: 0 if it was not touched,
// k+1 for record k of pages, -(k+1) for record k once the page is kept
// whole. The sign lets the checkpoint's first step tell a freed page from
// the index alone, which it reads in ID order, instead of loading the
// record of every touched page at a random place (a fifth of a 1 GiB
// checkpoint's time under the lock, docs/benchmarks.md).
func (c *cowState) entry(id PageID) int32 {
	if uint64(id) < uint64(len(c.dense)) {
		return c.dense[id]
	}
	return c.sparse[id] // nil map: 0
}

func (c *cowState) setEntry(id PageID, k int32) {
	if uint64(id) < uint64(len(c.dense)) {
		c.dense[id] = k
		return
	}
	if c.sparse == nil {
		c.sparse = map[PageID]int32{}
	}
	c.sparse[id] = k
}

// frozen returns the records kept so far, for reading those of pages
// below nextUnwritten after the lock is released: records are never moved
// (chunks only grow), and those pages' records and undo chains never
// change again.
func (c *cowState) frozen() cowRecords {
	return cowRecords{pages: c.pages.chunks, undos: c.undos.chunks, bigs: c.bigs.chunks}
}

// cowRecords are a cowState's records as of one moment.
type cowRecords struct {
	pages [][]cowPage
	undos [][]cowUndo
	bigs  [][][]byte
}

// old returns the bytes undo record u kept.
func (r cowRecords) old(u *cowUndo) []byte {
	if u.big == 0 {
		return u.data[:u.n]
	}
	return *chunkAt(r.bigs, int(u.big-1))
}

// page returns the record of index entry k (nonzero, either sign).
func (r cowRecords) page(k int32) *cowPage {
	if k < 0 {
		k = -k
	}
	return chunkAt(r.pages, int(k-1))
}

// rollBack turns b, page p's live bytes, into its bytes at the snapshot.
func (r cowRecords) rollBack(p *cowPage, b []byte) {
	r.rollBackAll([]rollJob{{undo: p.undo, b: b}})
}

// rollJob is one page to roll back: b, its live bytes, and undo, the
// newest of its undo records + 1 (nonzero).
type rollJob struct {
	undo int32
	b    []byte
}

// rollLanes is how many pages rollBackAll rolls back at once.
const rollLanes = 16

// rollBackAll rolls back the pages of jobs, each as rollBack does, in
// rollLanes interleaved lanes. A page's undo records form a chain through
// the records, which sit wherever the commits that made them put them:
// each step loads the record its predecessor names, then the bytes it
// kept, two cache misses that one chain can only take one after the
// other. Taking one step of rollLanes chains at a time, the records of
// all lanes first and then their bytes, keeps that many misses in
// flight. A page's own records are still applied newest first, and no
// two jobs share bytes, so the result is rollBack's
// (TestRollBackAllMatchesOneByOne). Walked one chain at a time, the roll
// back was 4.0 s of a 1 GiB checkpoint's 5.0 s of CPU during a 30M-delta
// run at 1M pages on disk; 1.2 s of 2.1 s in lanes (32 lanes gained
// nothing more), and 0.9 s of 1.6 s once records held their bytes
// (cowUndo; docs/benchmarks.md).
func (r cowRecords) rollBackAll(jobs []rollJob) {
	var lanes [rollLanes]rollJob
	var us [rollLanes]*cowUndo
	n, next := 0, 0
	for ; n < rollLanes && next < len(jobs); next++ {
		if jobs[next].undo != 0 {
			lanes[n] = jobs[next]
			n++
		}
	}
	for n > 0 {
		// The records first, then their bytes: each loop's loads are
		// independent of one another.
		for j := range lanes[:n] {
			us[j] = chunkAt(r.undos, int(lanes[j].undo-1))
		}
		for j := range lanes[:n] {
			u := us[j]
			copy(lanes[j].b[u.off:], r.old(u))
			lanes[j].undo = u.prev
		}
		for j := 0; j < n; {
			l := &lanes[j]
			// A page done: the lane takes the next page, or the last
			// lane's (then looked at again).
			for l.undo == 0 && next < len(jobs) {
				*l = jobs[next]
				next++
			}
			if l.undo != 0 {
				j++
				continue
			}
			n--
			*l = lanes[n]
		}
	}
}

// chunked is a growing array in fixed-size chunks: adding never copies
// what is there (a doubling slice copied tens of megabytes under the
// commits' lock) and pointers to elements stay valid.
//
// A checkpoint's chunks are kept for the next checkpoint (spare), zeroed:
// commits add a record for nearly every page they touch while a
// checkpoint of random pages runs (32 bytes, and an undo record of 32),
// about 64 KiB per commit of 1,000 deltas early on, and faulting that in
// on the commit's path cost up to 0.5–2.5 ms a page fault on the 2-core
// AMD EPYC VM (a commit's own faults, counted with getrusage:
// docs/benchmarks.md). Kept, the memory is what the largest checkpoint so
// far needed: 32 bytes a page touched while it ran and 32 a change to a
// page not yet written.
type chunked[T any] struct {
	chunks [][]T
	n      int
	spare  [][]T // zeroed chunks to use before allocating
}

const chunkLen = 1024

func (a *chunked[T]) at(k int) *T { return chunkAt(a.chunks, k) }

// chunkAt returns element k of chunks of chunkLen elements (a chunked's,
// or a copy of its chunk list taken earlier: see cowState.frozen).
func chunkAt[T any](chunks [][]T, k int) *T { return &chunks[k/chunkLen][k%chunkLen] }

// add appends a zero element and returns its index.
func (a *chunked[T]) add() int {
	if a.n%chunkLen == 0 {
		var c []T
		if k := len(a.spare); k > 0 {
			c, a.spare = a.spare[k-1], a.spare[:k-1]
		} else {
			c = make([]T, chunkLen)
		}
		a.chunks = append(a.chunks, c)
	}
	a.n++
	return a.n - 1
}

// release zeroes the chunks (dropping what their elements point to) and
// returns them with the spare ones, for a later chunked's spare. It lets
// other goroutines run between chunks: zeroing a checkpoint's records
// takes tens of milliseconds.
func (a *chunked[T]) release() [][]T {
	for _, c := range a.chunks {
		clear(c)
		runtime.Gosched()
	}
	all := append(a.spare, a.chunks...)
	*a = chunked[T]{}
	return all
}

// beginSnapshotLocked captures the checkpoint's snapshot and turns copy on
// write on. Caller holds e.mu.
func (e *Bus) beginSnapshotLocked(pool cowBlockPool) *snapshot {
	s := &snapshot{
		state: record.State{LastLSN: e.lastLSN, NextID: e.nextID, LastTime: e.lastTime,
			Pages: uint64(e.store.Len()), Edges: uint64(e.graph.NumEdges()), Bindings: uint64(len(e.bindings))},
		ids:       e.store.AppendIDs(e.ckptScratch.ids[:0]),
		bindings:  make([]PageID, 0, len(e.bindings)), // sorted outside the lock (writeCheckpoint)
		binds:     make(map[PageID]Binding, len(e.bindings)),
		pending:   slices.Clone(e.dirty), // sorted outside the lock
		recompute: e.appendRecompute(nil),
	}
	s.edges = e.graph.AppendEdgesUnsorted(s.edges) // sorted outside the lock too
	s.bytesHint = e.store.Stats().LogicalBytes + int64(len(s.ids))*pageRecordOverhead +
		int64(len(s.edges))*32 + int64(len(e.bindings))*64 + int64(len(s.pending)+len(s.recompute))*4 + 4096
	for id, b := range e.bindings {
		s.binds[id] = *b // bindings are replaced, never mutated, so sharing slices is safe
		s.bindings = append(s.bindings, id)
	}
	e.cow = newCowState(s, e.ckptScratch.dense, pool)
	e.cow.blocks.spare, e.ckptScratch.blocks = e.ckptScratch.blocks, nil
	e.cow.pages.spare, e.ckptScratch.pageChunks = e.ckptScratch.pageChunks, nil
	e.cow.undos.spare, e.ckptScratch.undoChunks = e.ckptScratch.undoChunks, nil
	if e.ckptLockedHook != nil {
		e.ckptLockedHook("snapshot")
	}
	return s
}

// pageRecordOverhead is about the bytes of a page record beyond the page's
// bytes (frame header, ID, sizes, epoch, LSN, flags).
const pageRecordOverhead = 48

// advance records that the first n pages of the snapshot are written.
func (c *cowState) advance(n int) {
	c.written = n
	if n < len(c.snap.ids) {
		c.nextUnwritten = c.snap.ids[n]
	} else {
		c.nextUnwritten = ^PageID(0)
	}
}

// cowTouch returns what copy on write keeps of page id (slot sl) before
// it changes, keeping its scalars on the first change; nil when nothing is
// to be kept (written already, not in the snapshot, or kept whole). full:
// the caller changes more than the page's bytes, epoch and last-write LSN
// (its flags or metadata, or frees it), so everything is kept; otherwise
// (a delta) only the epoch and LSN are (partial): the rest cannot have
// changed since the snapshot until a later full touch completes the
// record, so the checkpoint reads it live. That spares a delta's first
// touch two map lookups (flags, metadata). Caller holds e.mu for writing.
func (e *Bus) cowTouch(id PageID, sl page.Slot, full bool) *cowPage {
	c := e.cow
	if c == nil || id < c.nextUnwritten {
		return nil // no checkpoint, or written already (or not in the snapshot)
	}
	if k := c.entry(id); k != 0 {
		if k < 0 {
			return nil // kept whole
		}
		p := c.pages.at(int(k - 1))
		if p.skip {
			return nil
		}
		if full && p.partial {
			// Only bytes, epoch and LSN changed since the snapshot: the
			// live rest is the snapshot's.
			img := &record.PageImage{}
			e.pageImage(sl, img)
			img.Data, img.Epoch, img.LastLSN = nil, p.epoch, p.lastLSN
			p.img, p.partial = img, false
		}
		return p
	}
	k := c.pages.add()
	p := c.pages.at(k)
	c.setEntry(id, int32(k+1))
	// Every change to a snapshot page passes here first, so a page written
	// after the snapshot and untouched so far was created after it.
	if e.store.LastLSN(sl) > c.snap.state.LastLSN {
		p.skip = true
		return nil
	}
	if !full {
		p.epoch, p.lastLSN, p.partial = e.store.Epoch(sl), e.store.LastLSN(sl), true
		return p
	}
	p.img = &record.PageImage{}
	e.pageImage(sl, p.img)
	p.img.Data = nil
	return p
}

// warm loads, for each delta of a batch whose page the checkpoint has not
// written yet, the lines cowSaveBytes is about to read: the page's entry
// in the index and, if the page was touched before, its record; its
// version word and cell; and the page bytes at the delta's first run (the
// page's first line for a masked delta).
// cowSaveBytes is a chain of dependent loads behind calls, so each
// delta's cache misses came one after the other (a 16-byte
// copy out of the page was a fifth of a commit's CPU during a 1 GiB
// checkpoint); this loop's loads are independent, so the CPU keeps many in
// flight. Measured: a commit's apply step during checkpoints of 1M pages
// went from about 450 to 370-410 µs (docs/benchmarks.md). The loaded
// values are summed into sink only so that the loads are not dropped.
func (c *cowState) warm(st *page.Store, ds []delta.Delta, slots []page.Slot) {
	var sum uint64
	for i := range ds {
		d := &ds[i]
		if d.Page < c.nextUnwritten {
			continue // written already: cowTouch returns at once
		}
		if uint64(d.Page) < uint64(len(c.dense)) {
			if k := c.dense[d.Page]; k > 0 { // a page kept whole keeps nothing more
				// Touched before in this checkpoint: its record, at a
				// random place in the chunks. cowTouch's first test of
				// it was its costliest line; loaded here, a CPU profile
				// of a 30M-delta run at 1M pages put cowSaveBytes and
				// warm at 2.91 s instead of 4.10 s (docs/benchmarks.md).
				sum += uint64(c.pages.at(int(k - 1)).undo)
			}
		}
		sl := slots[i]
		sum += uint64(st.LastLSN(sl))
		b := st.Bytes(sl)
		off := 0
		if d.Form == delta.FormRuns && len(d.Runs) > 0 {
			off = int(d.Runs[0].Offset)
		}
		if off < len(b) {
			sum += uint64(b[off])
		}
	}
	c.sink += sum
}

// cowSave keeps what a running checkpoint needs before page id's flags
// or metadata change. Caller holds e.mu for writing.
func (e *Bus) cowSave(id PageID) {
	if e.cow == nil || id < e.cow.nextUnwritten {
		return
	}
	if sl, ok := e.store.Lookup(id); ok {
		e.cowTouch(id, sl, true)
	}
}

// cowSaveBytes keeps the bytes delta d is about to overwrite in page slot
// sl, for a running checkpoint. Caller holds e.mu for writing.
func (e *Bus) cowSaveBytes(sl page.Slot, d *delta.Delta) {
	p := e.cowTouch(d.Page, sl, false)
	if p == nil {
		return
	}
	b := e.store.Bytes(sl)
	lo, hi := deltaBounds(d)
	hi = min(hi, uint32(len(b)))
	lo = min(lo, hi)
	c := e.cow
	k := c.undos.add()
	u := c.undos.at(k)
	u.prev, u.off, u.n = p.undo, lo, hi-lo
	if old := b[lo:hi]; len(old) <= cowInline {
		copy(u.data[:], old)
	} else {
		kb := c.bigs.add()
		*c.bigs.at(kb) = c.blocks.copy(old)
		u.big = int32(kb + 1)
	}
	p.undo = int32(k + 1)
}

// cowSaveWhole keeps page id's whole image before it is freed. Caller
// holds e.mu for writing.
func (e *Bus) cowSaveWhole(id PageID) {
	if e.cow == nil || id < e.cow.nextUnwritten {
		return
	}
	sl, ok := e.store.Lookup(id)
	if !ok {
		return
	}
	p := e.cowTouch(id, sl, true)
	if p == nil {
		return
	}
	c := e.cow
	p.img.Data = c.blocks.copy(e.store.Bytes(sl))
	c.frozen().rollBack(p, p.img.Data)
	p.undo = 0
	c.setEntry(id, -c.entry(id)) // whole
}

// cowBlocks holds the bytes copy on write keeps beyond what an undo
// record holds itself (changes of more than cowInline bytes, and whole
// pages before a free) in large blocks: one allocation per cowBlockBytes
// instead of one per change, and nothing for the GC to scan.
type cowBlocks struct {
	cur  []byte   // the block being filled (len: bytes used)
	full [][]byte // blocks filled before cur (bigs and whole images point into them)
	pool cowBlockPool
	// spare is the earlier checkpoint's full-size blocks beyond what the
	// pool holds, used first (see recycle).
	spare [][]byte
}

// cowBlockBytes is the size of one block of kept bytes.
const cowBlockBytes = 4 << 20

// copy returns a copy of b held in a block.
func (bl *cowBlocks) copy(b []byte) []byte {
	if len(b) > cowBlockBytes/4 {
		return bytes.Clone(b) // a large page: its own allocation
	}
	if cap(bl.cur)-len(bl.cur) < len(b) {
		// Fresh blocks start small and double, so that a checkpoint that
		// keeps little allocates little.
		if bl.cur != nil {
			bl.full = append(bl.full, bl.cur)
		}
		if k := len(bl.spare); k > 0 {
			bl.cur, bl.spare = bl.spare[k-1][:0], bl.spare[:k-1]
		} else {
			bl.cur = bl.pool.take(min(cowBlockBytes, max(64<<10, 2*cap(bl.cur))))
		}
	}
	n := len(bl.cur)
	bl.cur = append(bl.cur, b...)
	return bl.cur[n : n+len(b) : n+len(b)]
}

// recycle hands full-size blocks back to the pool once the checkpoint is
// over, so that the next one starts with blocks already faulted in
// (filling the pool with fresh ones at every checkpoint's start faulted in
// 8 MiB while commits went on, see ckptScratch.reserve), and returns up to
// cowSpareBlocks more for the next checkpoint's spare: blocks the garbage
// collector frees go back to the kernel, and a commit that then missed
// the pool faulted its block in (64 KiB, 16 faults, each 0.5-2.5 ms at
// times on the 2-core AMD EPYC VM: docs/benchmarks.md). The rest are left
// to the garbage collector.
func (bl *cowBlocks) recycle() [][]byte {
	blocks := append(bl.full, bl.cur)
	blocks = append(blocks, bl.spare...)
	bl.cur, bl.full, bl.spare = nil, nil, nil
	var spare [][]byte
	for _, b := range blocks {
		if cap(b) != cowBlockBytes {
			continue
		}
		select {
		case bl.pool <- b[:0]:
		default: // full, or no pool (a nil channel never takes)
			if len(spare) == cowSpareBlocks {
				return spare
			}
			spare = append(spare, b[:0])
		}
	}
	return spare
}

// cowSpareBlocks bounds the blocks kept from one checkpoint for the next:
// 256 MiB, the bytes a checkpoint of 1M random pages keeps while 1,000-
// delta commits go on at full speed, with room to spare.
const cowSpareBlocks = 64

// pageImage fills img with a page's checkpoint image; img.Data aliases the
// live page bytes (copy them if the page may change before img is used).
// Metadata is always copied by AppendMeta (nil when the page has none).
func (e *Bus) pageImage(sl page.Slot, img *record.PageImage) {
	id := e.store.ID(sl)
	*img = record.PageImage{ID: id, Size: uint32(e.store.Size(sl)), Location: e.store.Location(sl),
		Epoch: e.store.Epoch(sl), LastLSN: e.store.LastLSN(sl), Flags: e.flags[id],
		Meta: page.AppendMeta(img.Meta[:0], e.store.Meta(sl)), Data: e.store.Bytes(sl)}
}

// A checkpoint writes pages in ranges of up to ckptRangeBytes of page
// bytes or ckptRangePages pages, each in three steps:
//
//  1. under the read lock: each page's scalars and metadata, and where its
//     bytes are;
//  2. without the lock: copy the bytes (memory-bound: a 1 MiB range of
//     cold pages took 235 µs idle and twice that beside a committer, time
//     every commit waited for while the copy ran under the lock);
//  3. under the read lock, the range's pages count as written, so that
//     commits keep nothing more for them, and their index entries are
//     read; then, without the lock, pages changed since the snapshot take
//     the scalars copy on write kept, and their copied bytes are rolled
//     back through its undo records, which no commit changes any more.
//
// Step 2 reads page memory that a commit may be writing. That is outside
// the Go memory model on purpose (the memory is a mapping, not Go heap,
// and the race detector does not see it): a commit writes a page of the
// range only after copy on write kept the bytes it overwrites (the range
// is not written yet until step 3), and step 3 rolls every such byte back
// to its value at the snapshot, so whatever step 2 read of it, torn or
// not, is overwritten. Bytes no undo record covers did not change. Between
// steps 2 and 3, commits keep undo records for the range's pages; those
// records undo changes made after step 2's copy, so applying them to the
// copy rewrites bytes it already holds. A large page (its own mapping,
// unmapped when freed) is copied in step 1 instead.
//
// Each step that takes the lock waits for the commit in progress, and a
// commit waits for the hold in progress, so the holds are kept short:
// step 1 reads the copy-on-write index in ID order and no record but a
// freed page's, and step 3 rolls back outside the lock. Rolling back
// under the lock (256 pages a hold) and loading every touched page's
// record in step 1 held the lock 19-29 % of a 1 GiB checkpoint, holds of
// 0.16-0.34 ms at the median and up to 4.7 ms (docs/benchmarks.md).
// Ranges of 1 MiB measured best: commits during the checkpoint p99
// 1.5-1.7 ms against 1.8-2.6 ms with 2 MiB at the same throughput; 512 KiB
// gave 1.5-1.7 ms but stretched the checkpoint so that throughput fell by
// a quarter.
const (
	ckptRangeBytes = 1 << 20
	ckptRangePages = 4096
)

// yieldToCommitter hands this goroutine's processor to a commit that waited
// for the checkpoint's read lock, before the checkpoint goes on with work
// outside the lock (copying a range, writing pages to its file). The Go
// scheduler puts a goroutine woken by an unlock in the unlocker's own
// processor's next slot; without the yield the commit waits there until
// another processor steals it or, when the checkpoint then blocks in a
// write system call, until sysmon takes the processor back (traced at
// 12-13 ms). Gosched moves the checkpoint goroutine to the global queue
// and wakes an idle processor for it. Measured on 60M-delta runs with
// checkpoints of 1M pages: commit p50 and p99 during checkpoints lower and
// throughput 5 % higher; the max unchanged (docs/benchmarks.md).
func yieldToCommitter() { runtime.Gosched() }

// checkpointErr prefixes a checkpoint failure once: package checkpoint's
// errors already say "checkpoint: " (they read "mmsb: checkpoint:
// checkpoint: create ..."), a context's or the bus's own do not.
func checkpointErr(err error) error {
	if strings.HasPrefix(err.Error(), "checkpoint: ") {
		return fmt.Errorf("mmsb: %w", err)
	}
	return fmt.Errorf("mmsb: checkpoint: %w", err)
}

// writeCheckpoint writes snap to a new checkpoint file. Pages are encoded
// under the read lock in small batches (so commits interleave) and written
// to the file outside it.
//
// A panic out of the bus's own code here (a defect) is the checkpoint's
// failure, as a panic of its file is (checkpoint.ErrFilePanicked): the
// read lock, if held, is released and the file removed. A panic under the
// read lock left it held, and every later commit and Close waited for
// ever; on the automatic checkpoint's goroutine any panic ended the
// process. Writing a checkpoint changes no page: the bus goes on
// (TestCheckpointStepPanicIsFailure). One deferred call a checkpoint;
// rlocked is set and cleared once a range.
func (e *Bus) writeCheckpoint(ctx context.Context, snap *snapshot, pool cowBlockPool) (info CheckpointInfo, err error) {
	lsn := snap.state.LastLSN
	w, err := checkpoint.Create(e.fs, e.ckptDir(), lsn)
	if err != nil {
		if e.memory && !e.opts.MemoryCheckpoints {
			return CheckpointInfo{}, fmt.Errorf("%w (an in-memory bus writes its checkpoints to a scratch file in $TMPDIR; Options.MemoryCheckpoints keeps them in RAM instead)", checkpointErr(err))
		}
		return CheckpointInfo{}, checkpointErr(err)
	}
	// An in-memory file that doubles as it grows copies itself under the
	// filesystem's lock, which the log's writes (under the bus lock) wait
	// for: reserve the expected size once instead.
	rlocked := false // e.mu held shared (steps 1 and 3)
	defer func() {
		if v := recover(); v != nil {
			if rlocked {
				e.mu.RUnlock()
			}
			w.Abort()
			info, err = CheckpointInfo{}, checkpointErr(checkpointPanicked("writing the checkpoint", v))
		}
	}()
	w.SizeHint(snap.bytesHint)
	if !e.memory {
		w.SetRate(e.checkpointWriteRate())
		defer func() { e.ckptPaced.Add(int64(w.Paced())) }()
	}
	fail := func(err error) (CheckpointInfo, error) {
		w.Abort()
		return CheckpointInfo{}, checkpointErr(err)
	}
	buf := record.AppendState(nil, &snap.state)
	if err := w.Append(record.CkptState, buf); err != nil {
		return fail(err)
	}
	var batch []byte
	stage, imgs := e.ckptScratch.stage, e.ckptScratch.imgs // one range's copies, reused (Meta buffers too)
	defer func() { e.ckptScratch.stage, e.ckptScratch.imgs = stage[:0], imgs }()
	var refs []*record.PageImage             // the range's images, in ID order
	var views [][]byte                       // live bytes still to copy (step 2), by index in refs
	ents := make([]int32, 0, ckptRangePages) // the range's copy-on-write index entries (step 3)
	var rolls []rollJob                      // the range's pages to roll back (step 3)
	for i := 0; i < len(snap.ids); {
		if err := ctx.Err(); err != nil {
			return fail(err) // see Checkpoint
		}
		// Step 1: scalars, metadata and where the bytes are.
		start, size, nlive := i, 0, 0
		stage, refs, views = stage[:0], refs[:0], views[:0]
		e.rlockSettled()
		rlocked = true
		if e.closed {
			rlocked = false
			e.mu.RUnlock()
			return fail(ErrClosed)
		}
		for ; i < len(snap.ids) && i-start < ckptRangePages && size < ckptRangeBytes; i++ {
			id := snap.ids[i]
			if k := e.cow.entry(id); k < 0 {
				refs = append(refs, e.cow.frozen().page(k).img) // freed since: its image, never changed again
				views = append(views, nil)
				continue
			}
			sl, ok := e.store.Lookup(id)
			if !ok {
				rlocked = false
				e.mu.RUnlock()
				return fail(fmt.Errorf("page %d vanished without a saved image", id))
			}
			if nlive == len(imgs) {
				imgs = append(imgs, record.PageImage{})
			}
			img := &imgs[nlive]
			nlive++
			e.pageImage(sl, img)
			size += len(img.Data)
			refs = append(refs, img)
			if e.store.InSharedChunk(sl) {
				views = append(views, img.Data)
				continue
			}
			from := len(stage)
			stage = append(stage, img.Data...)
			img.Data = stage[from:len(stage):len(stage)]
			views = append(views, nil)
		}
		if e.ckptLockedHook != nil {
			e.ckptLockedHook("step1")
		}
		rlocked = false
		e.mu.RUnlock()
		if e.ckptAfterStep1 != nil {
			e.ckptAfterStep1()
		}
		yieldToCommitter()

		// Step 2: the bytes, without the lock (see ckptRangeBytes).
		for k, v := range views {
			if v != nil {
				from := len(stage)
				stage = append(stage, v...)
				refs[k].Data = stage[from:len(stage):len(stage)]
			}
		}

		// Step 3: the range counts as written, and what changed since the
		// snapshot is rolled back, outside the lock (see ckptRangeBytes).
		e.rlockSettled()
		rlocked = true
		if e.closed {
			rlocked = false
			e.mu.RUnlock()
			return fail(ErrClosed)
		}
		e.cow.advance(i)
		ents = ents[:0]
		for _, id := range snap.ids[start:i] {
			ents = append(ents, e.cow.entry(id))
		}
		kept := e.cow.frozen()
		if e.ckptLockedHook != nil {
			e.ckptLockedHook("step3")
		}
		rlocked = false
		e.mu.RUnlock()
		rolls = rolls[:0]
		for k, ent := range ents {
			if ent == 0 {
				continue
			}
			if ent < 0 {
				refs[k] = kept.page(ent).img // kept whole (step 1 saw it live)
				continue
			}
			p := kept.page(ent)
			if p.skip {
				continue
			}
			img := refs[k]
			if p.partial {
				// Only bytes, epoch and LSN changed: step 1 read the rest as
				// it was at the snapshot.
				img.Epoch, img.LastLSN = p.epoch, p.lastLSN
				rolls = append(rolls, rollJob{undo: p.undo, b: img.Data})
				continue
			}
			// Scalars and metadata as kept; Meta into img's own buffer,
			// which the next range reuses.
			meta, data := img.Meta[:0], img.Data
			*img = *p.img
			img.Meta, img.Data = append(meta, p.img.Meta...), data
			rolls = append(rolls, rollJob{undo: p.undo, b: data})
		}
		kept.rollBackAll(rolls)
		yieldToCommitter()
		pool.fill(1) // keep copy on write ahead of its page faults

		for _, img := range refs {
			batch = record.AppendPage(batch[:0], img)
			if err := w.Append(record.CkptPage, batch); err != nil {
				return fail(err)
			}
		}
	}
	// Sorted here, without the bus's lock, which the snapshot holds: the
	// sorts of 200,000 bindings and their edges there held commits back.
	sortUnlocked(e, func() {
		slices.SortFunc(snap.edges, graph.CompareEdges)
		slices.Sort(snap.bindings)
	})
	for _, ed := range snap.edges {
		buf = record.AppendEdge(buf[:0], record.OpAddEdge, ed.Parent, ed.Child, uint8(ed.Type))
		if err := w.Append(record.CkptEdge, buf); err != nil {
			return fail(err)
		}
	}
	for _, id := range snap.bindings {
		b := snap.binds[id]
		buf = record.AppendBind(buf[:0], id, b.Func, b.Params, b.Parents)
		if err := w.Append(record.CkptBinding, buf); err != nil {
			return fail(err)
		}
	}
	// The dirty set goes last, and only when there is one: a checkpoint
	// taken between a commit and its propagation would otherwise lose the
	// flags the next wave raises (a Control edge's FlagStale), which a
	// resync does not raise.
	slices.Sort(snap.pending)
	for rest := snap.pending; len(rest) > 0; {
		n := min(len(rest), record.MaxPendingPerRecord)
		buf = record.AppendPending(buf[:0], rest[:n])
		if err := w.Append(record.CkptPending, buf); err != nil {
			return fail(err)
		}
		rest = rest[n:]
	}
	// Then the pages to compute whatever their parents do (bound, not yet
	// computed, or held back by a failed function): without them a
	// restart forgot them until a parent was written or a resync ran.
	slices.Sort(snap.recompute)
	snap.recompute = slices.Compact(snap.recompute)
	for rest := snap.recompute; len(rest) > 0; {
		n := min(len(rest), record.MaxPendingPerRecord)
		buf = record.AppendPending(buf[:0], rest[:n])
		if err := w.Append(record.CkptRecompute, buf); err != nil {
			return fail(err)
		}
		rest = rest[n:]
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	path, err := w.Commit()
	if err != nil {
		return CheckpointInfo{}, checkpointErr(err)
	}
	return CheckpointInfo{Path: path, LSN: lsn, Pages: len(snap.ids)}, nil
}

// snapshotLocked is beginSnapshotLocked, a panic out of it (a defect of
// the bus's own code) returned as the checkpoint's failure: the panic
// left e.mu held exclusively, and every later call of the bus, Close too,
// waited for ever; on the automatic checkpoint's goroutine it ended the
// process. Taking a snapshot changes no page: the bus goes on, copy on
// write off (TestCheckpointStepPanicIsFailure). Caller holds e.mu
// exclusively, and releases it.
func (e *Bus) snapshotLocked(pool cowBlockPool) (snap *snapshot, err error) {
	defer func() {
		if v := recover(); v != nil {
			e.cow = nil
			snap, err = nil, checkpointErr(checkpointPanicked("taking the snapshot", v))
		}
	}()
	return e.beginSnapshotLocked(pool), nil
}

// checkpointRecovered is the failure of a checkpoint for a panic with
// value v out of the bus's own code where Checkpoint held no lock of the
// bus's (see checkpoint): counted as any failed checkpoint is, copy on
// write turned off when cowOn says it is on, and the scratch dropped,
// since the panic may have left it half readied (the next checkpoint
// allocates it afresh). The temporary file, if any, is writeCheckpoint's,
// which removes it on its own failures. Caller holds ckptMu.
func (e *Bus) checkpointRecovered(v any, cowOn bool) error {
	err := checkpointErr(checkpointPanicked("checkpointing", v))
	if cowOn {
		e.lockSettled()
		e.cow = nil
		e.mu.Unlock()
	}
	e.ckptScratch = ckptScratch{}
	var logBytes uint64
	if e.log != nil {
		logBytes = e.log.Stats().Bytes
	}
	e.noteCheckpointFailure(err, logBytes)
	return err
}

// checkpointPanicked is the failure of a checkpoint for a panic with value
// v out of the bus's own checkpoint code (a defect) where it did what
// says; a value that is an error is wrapped (errors.Is and As see it).
func checkpointPanicked(where string, v any) error {
	const what = "the bus's own code panicked %s (a defect; the bus's state is not changed): "
	if err, ok := v.(error); ok {
		return fmt.Errorf(what+"%w", where, err)
	}
	return fmt.Errorf(what+"%v", where, v)
}

// checkpointWriteRate is the rate a checkpoint writes at (bytes per
// second; 0: unlimited), from Options.CheckpointWriteRate.
func (e *Bus) checkpointWriteRate() int64 {
	switch r := e.opts.CheckpointWriteRate; {
	case r == 0:
		return defaultCheckpointWriteRate
	case r < 0:
		return 0
	default:
		return r
	}
}

// retainedCheckpoints is how many checkpoints the bus keeps: keepCheckpoints
// on disk; one for an in-memory bus (dir ""), whose checkpoints no crash or
// bad sector can corrupt, so that a second one is not a whole extra copy of
// the state held in RAM (issue 15: an in-memory bus holds its pages, one
// checkpoint and the log since it, at most about CheckpointBytes).
func (e *Bus) retainedCheckpoints() int {
	if e.memory {
		return 1
	}
	return keepCheckpoints
}

// closeBegun reports whether Close has begun. The removal of old
// checkpoints is paced (2 MiB steps, 1 ms apart) to spare the fsyncs of
// commits running beside it. Close waits for the checkpoint and its
// cleanup; once it has begun, a commit still running beside the cleanup
// races Close (its caller closed the bus under it, and the next ones get
// ErrClosed), so the removal stops pacing and frees the rest at once.
// Measured before: a sparse 10 GiB old checkpoint held Close 5.7 s, an
// allocated 1 GiB one 0.9 s (about 9 s for 10 GiB, extrapolated)
// (TestCloseHurriesOldCheckpointRemoval). The log segments the checkpoint
// covers are removed the same way.
func (e *Bus) closeBegun() bool {
	e.ckptStartMu.Lock()
	defer e.ckptStartMu.Unlock()
	return e.closing
}

func (e *Bus) pruneAfterCheckpoint(info *CheckpointInfo) error {
	keep := e.retainedCheckpoints()
	list, err := checkpoint.List(e.fs, e.ckptDir())
	if err != nil {
		return checkpointErr(err)
	}
	removed := 0
	kept := list[:0] // the readable checkpoints retained, newest first
	// The names that hold no checkpoint file and could not be removed,
	// and the error that reports those not met before.
	stuck := map[string]bool{}
	var stuckErr error
	// judge is retention's verdict on c, a name met after the retained
	// checkpoints in kept: "unloadable" or "old" to remove it, "" to
	// keep it, or skip: neither counted nor removed.
	judge := func(c checkpoint.Info) (why string, skip bool) {
		switch {
		case e.unloadable[c.Path] || notCheckpointFile(c.Err):
			// A checkpoint recovery could not load, or a name that holds
			// no file (a dangling link, a directory or pipe put under a
			// checkpoint's name after Open), is no fallback: counted
			// among the retained ones, it would displace the good older
			// checkpoint and let the log be trimmed up to its own LSN,
			// leaving one loadable checkpoint
			// (TestSkippedCheckpointNotRetained,
			// TestPruneSkipsUnreadableCheckpoint). The new checkpoint
			// covers everything it held.
			return "unloadable", false
		case len(kept) >= keep:
			return "old", false
		case c.Err != nil:
			// A file that cannot be opened now for a reason that may
			// pass (no permission, too many open files, an I/O error):
			// not counted among the retained ones, for the same reason,
			// but not removed either while it is newer than they are.
			return "", true
		}
		return "", false
	}
	for _, c := range list {
		mine := c.Path == info.Path
		if mine {
			info.Bytes = c.Size
			delete(e.unloadable, c.Path) // replaced by the one just written
		}
		// The one just written is retained even should it fail to open
		// now: its Info.Err can only be a passing failure.
		var why string
		if !mine {
			var skip bool
			if why, skip = judge(c); skip {
				continue
			}
		}
		if why == "unloadable" && !e.unloadable[c.Path] {
			// The verdict is the listing's (a name that held no file),
			// and the removals before this one may have taken seconds
			// (paced): the name is looked at again. A checkpoint file
			// put there since (the disk a dangling link led to
			// mounted, a file restored over it) is judged by the same
			// judge as a fresh listing would judge it. Before, it was
			// removed as the name that held nothing
			// (TestPruneLooksAgainBeforeRemoving), and then one that
			// could not be opened past the retained ones was kept,
			// where a fresh listing removes it as old
			// (TestPruneLooksAgainJudgesAsListing).
			now := checkpoint.Restat(e.fs, c)
			var skip bool
			if why, skip = judge(now); skip {
				continue
			}
			c = now
		}
		if why != "" {
			err := checkpoint.Remove(e.fs, c.Path, e.closeBegun)
			if vfs.IsNotExist(err) {
				// Gone since the listing (removed by hand while the bus
				// runs): what the removal was for. Returned, it failed
				// the checkpoint and left the log untrimmed
				// (TestPruneNameGoneMidway).
				err = nil
			}
			if err != nil {
				if notCheckpointFile(c.Err) {
					// A name that holds no checkpoint file and cannot
					// be removed (a directory with files in it: an
					// operator's, a restored backup tree) is left as it
					// is, never emptied, and pruning goes on around it:
					// it holds nothing recovery could load, so the log
					// may be trimmed past it. Reported by the first
					// prune that meets it only. Before, its failed
					// removal stopped every later prune, and with it
					// the log's trimming, until commits were refused
					// (TestPruneSkipsUndeletableName).
					stuck[c.Path] = true
					if !e.pruneStuck[c.Path] {
						stuckErr = errors.Join(stuckErr, fmt.Errorf("mmsb: checkpoint: %s holds no checkpoint file and cannot be removed: left as it is, and passed over by retention from now on (remove or rename it by hand): %w", c.Path, err))
					}
					continue
				}
				return fmt.Errorf("mmsb: checkpoint: remove %s %s: %w", why, c.Path, err)
			}
			delete(e.unloadable, c.Path)
			removed++
			continue
		}
		kept = append(kept, c)
	}
	list = kept
	e.pruneStuck = stuck // those removed since are reported again should they come back
	if removed > 0 {
		// The log may be trimmed only once the removals are durable: a
		// power failure would otherwise bring a removed checkpoint back
		// beside a log that no longer reaches the present from it (its
		// replay fails, and so would recovery through it should the newer
		// ones be damaged). The error was ignored until 2026-12-05
		// (TestPruneDirSyncFailureKeepsLog, found by TestFaultSweep).
		// The stuck names met for the first time are reported with these
		// errors too: e.pruneStuck already holds them, so the next prune
		// would not (TestPruneReportsStuckNameBesideFailure).
		if err := checkpoint.SyncDir(e.fs, e.ckptDir()); err != nil {
			return errors.Join(fmt.Errorf("mmsb: checkpoint: fsync %s after removing old checkpoints (the log is not trimmed): %w", e.ckptDir(), err), stuckErr)
		}
	}
	if e.log != nil && len(list) >= keep {
		n, err := e.log.RemoveThroughUntil(list[len(list)-1].LSN, e.closeBegun)
		if err != nil {
			return errors.Join(fmt.Errorf("mmsb: remove covered log segments: %w", err), stuckErr)
		}
		info.SegmentsRemoved = n
	}
	if e.memory && removed > 0 {
		// The old checkpoint and log segments of an in-memory bus were Go
		// heap: give their memory back to the OS now, not when the
		// scavenger gets to it (the heap goal would otherwise keep up to
		// twice the checkpoint resident). Runs on the checkpointing
		// goroutine; commits go on meanwhile.
		debug.FreeOSMemory()
	}
	return stuckErr
}

// notCheckpointFile reports whether err, a listed checkpoint's Info.Err,
// says that its name holds no file at all: a dangling link, a directory, a
// named pipe (vfs.ErrNotRegular on the OS filesystem, EISDIR from
// vfs.MemFS), or nothing any more.
func notCheckpointFile(err error) bool {
	return err != nil && (errors.Is(err, vfs.ErrNotRegular) || errors.Is(err, syscall.EISDIR) || vfs.IsNotExist(err))
}

// loadCheckpoint loads a checkpoint into the (empty) state.
func (e *Bus) loadCheckpoint(path string) error { return e.loadCheckpointFrom(e.fs, path) }

// loadCheckpointFrom loads the checkpoint at path into e. Every error it
// returns names the file (checkpoint.Open's, the reader's and the
// corruption errors below), so callers do not add it again.
func (e *Bus) loadCheckpointFrom(fs vfs.FS, path string) error {
	r, err := checkpoint.Open(fs, path)
	if err != nil {
		return err
	}
	defer r.Close()
	var st record.State
	var img record.PageImage
	var op record.Op
	// What the pages may declare (see record.ZeroExpansion): AppendPage
	// stores at least one byte per ZeroExpansion bytes of a page, so a
	// file a bus wrote never declares more. Checked before each page's
	// memory is taken, so that a small hand-made file cannot make the load
	// map and fault in gigabytes of zeros.
	pageBudget := int64(math.MaxInt64)
	if r.Size() <= math.MaxInt64/record.ZeroExpansion {
		pageBudget = record.ZeroExpansion * r.Size()
	}
	var declared int64 // page bytes declared so far
	n := 0
	var pages, edges, bindings uint64 // records seen (replayOnly loads fewer)
	var pending []PageID              // the dirty set, strictly ascending
	var recompute []PageID            // pages to compute at the next wave, strictly ascending
	for {
		kind, payload, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n++
		off := r.Offset()
		if n == 1 && kind != record.CkptState {
			return corruption.New(path, off, "first record is kind %d, want the state record", kind)
		}
		switch kind {
		case record.CkptState:
			if n != 1 {
				return corruption.New(path, off, "second state record")
			}
			if st, err = record.DecodeState(payload); err != nil {
				return corruption.Wrap(path, off, err, "state record")
			}
			if st.LastLSN != r.LSN() {
				return corruption.New(path, off, "state record: LSN %d != header LSN %d", st.LastLSN, r.LSN())
			}
			// Every page, edge and binding the state counts is a record of
			// its own, at least a frame header and a byte: refuse counts
			// the rest of the file cannot hold before reading on.
			left := r.Remaining() - (checkpoint.FrameHeaderSize + checkpoint.TrailerPayloadSize)
			most := uint64(max(left, 0)) / (checkpoint.FrameHeaderSize + 1)
			if st.Pages > most || st.Edges > most || st.Bindings > most || st.Pages+st.Edges+st.Bindings > most {
				return corruption.New(path, off, "state record declares %d pages, %d edges and %d bindings; the %d bytes after it hold at most %d records",
					st.Pages, st.Edges, st.Bindings, max(left, 0), most)
			}
		case record.CkptPage:
			lead, err := record.DecodePageSpan(payload, &img)
			if err != nil {
				return corruption.Wrap(path, off, err, "page record")
			}
			// Every record decodes on its own; these hold between the
			// pages and the state record in every checkpoint a bus writes.
			// Unchecked, a page last written after the checkpoint's LSN
			// loaded, and copy on write then took it for a page created
			// after the next checkpoint's snapshot and kept nothing of it.
			if img.LastLSN > st.LastLSN {
				return corruption.New(path, off, "page %d last written at LSN %d, after the checkpoint's LSN %d", img.ID, img.LastLSN, st.LastLSN)
			}
			// A next ID of 0 says that no ID is left to assign: a page
			// with ID 2^64-1 exists (the next would wrap; CreatePages).
			if st.NextID != 0 && img.ID >= st.NextID {
				return corruption.New(path, off, "page %d at or past the next page ID %d", img.ID, st.NextID)
			}
			if declared += int64(img.Size); declared > pageBudget {
				return corruption.New(path, off, "page record %d declares %d bytes, %d with the pages before it: more than the file's %d bytes hold (at most %d× as many, %d)",
					img.ID, img.Size, declared, r.Size(), record.ZeroExpansion, pageBudget)
			}
			pages++
			if e.replayOnly != 0 && img.ID != e.replayOnly {
				continue
			}
			sl, err := e.store.CreateAt(img.ID, int(img.Size), img.Location, uint64(img.LastLSN))
			if err != nil {
				return corruption.Wrap(path, off, err, "page %d", img.ID)
			}
			// A new page is zero: only the stored span is copied, once,
			// from the record (no expanded copy of the page).
			copy(e.store.Bytes(sl)[lead:], img.Data)
			e.store.SetEpoch(sl, img.Epoch)
			e.store.SetLastLSN(sl, img.LastLSN)
			if len(img.Meta) > 0 {
				entries, err := page.DecodeMeta(img.Meta)
				if err != nil {
					return corruption.Wrap(path, off, err, "page %d metadata", img.ID)
				}
				if err := e.store.SetMeta(sl, entries); err != nil {
					return corruption.Wrap(path, off, err, "page %d metadata", img.ID)
				}
			}
			if img.Flags != 0 {
				e.flags[img.ID] = img.Flags
			}
		case record.CkptEdge:
			if err := record.DecodeOne(payload, record.OpAddEdge, &op); err != nil {
				return corruption.Wrap(path, off, err, "edge record")
			}
			if edges++; e.replayOnly != 0 {
				continue // edges change no page's bytes
			}
			if err := e.checkEdgeEnds(op.Parent, op.Child, op.EdgeType); err != nil {
				return corruption.Wrap(path, off, err, "edge record does not apply")
			}
			if _, err := e.graph.AddEdge(op.Parent, op.Child, base.EdgeType(op.EdgeType)); err != nil {
				return corruption.Wrap(path, off, err, "edge record does not apply")
			}
			e.graphHasEdges = true
		case record.CkptBinding:
			if err := record.DecodeOne(payload, record.OpBind, &op); err != nil {
				return corruption.Wrap(path, off, err, "binding record")
			}
			if bindings++; e.replayOnly != 0 {
				continue // derived bytes are logged: a replay never recomputes
			}
			if err := e.checkBind(op.Page, op.Parents, false); err != nil {
				return corruption.Wrap(path, off, err, "binding record does not apply")
			}
			e.bindings[op.Page] = &Binding{Func: op.Func, Params: append([]byte(nil), op.Params...),
				Parents: append([]PageID(nil), op.Parents...)}
		case record.CkptPending:
			from := len(pending)
			if pending, err = record.DecodePending(payload, pending); err != nil {
				return corruption.Wrap(path, off, err, "pending record")
			}
			if from > 0 && pending[from] <= pending[from-1] {
				return corruption.New(path, off, "pending record starts at page %d, not after page %d of the one before", pending[from], pending[from-1])
			}
		case record.CkptRecompute:
			from := len(recompute)
			if recompute, err = record.DecodePending(payload, recompute); err != nil {
				return corruption.Wrap(path, off, err, "recompute record")
			}
			if from > 0 && recompute[from] <= recompute[from-1] {
				return corruption.New(path, off, "recompute record starts at page %d, not after page %d of the one before", recompute[from], recompute[from-1])
			}
		default:
			return corruption.New(path, off, "unknown record kind %d", kind)
		}
	}
	if n == 0 {
		return corruption.New(path, -1, "no state record")
	}
	if e.replayOnly == 0 {
		// What was loaded: duplicates the records would hide are caught too.
		pages, edges, bindings = uint64(e.store.Len()), uint64(e.graph.NumEdges()), uint64(len(e.bindings))
	}
	if pages != st.Pages || edges != st.Edges || bindings != st.Bindings {
		return corruption.New(path, -1, "the state record counts %d pages, %d edges and %d bindings; the file holds %d, %d and %d",
			st.Pages, st.Edges, st.Bindings, pages, edges, bindings)
	}
	if e.replayOnly == 0 {
		// A derived page's Data edges are exactly its binding's: Bind adds
		// them, Unbind removes them and nothing else adds or removes one
		// (checkDataEdgeOwner and checkRemoveEdge rely on it). Each record
		// applied alone, so a binding whose parents had no Data edge into
		// the page loaded (propagation then never reached it from them;
		// and only edges are checked for cycles, so a page bound to itself
		// loaded too), and so did a foreign Data edge recorded after the
		// binding.
		var in []graph.Edge
		var sorted []PageID
		for _, id := range slices.Sorted(maps.Keys(e.bindings)) {
			b := e.bindings[id]
			for _, p := range b.Parents {
				if !e.graph.HasEdge(p, id, base.EdgeData) {
					return corruption.New(path, -1, "binding of page %d: no data edge from its parent %d", id, p)
				}
			}
			sorted = append(sorted[:0], b.Parents...)
			slices.Sort(sorted)
			in = e.graph.AppendParentsUnsorted(in[:0], id)
			for _, ed := range in {
				if _, found := slices.BinarySearch(sorted, ed.Parent); ed.Type == base.EdgeData && !found {
					return corruption.New(path, -1, "data edge %d -> %d: page %d is bound and %d is not among its parents %s",
						ed.Parent, id, id, ed.Parent, shownIDs(b.Parents))
				}
			}
		}
		// Only live pages wait for propagation (a free leaves the set).
		for _, id := range pending {
			if _, ok := e.store.Lookup(id); !ok {
				return corruption.New(path, -1, "pending record names page %d, which the checkpoint does not hold", id)
			}
		}
		for _, id := range pending {
			e.dirtySet[id] = struct{}{}
		}
		e.dirty = append(e.dirty[:0], pending...)
		// Only derived pages are computed (an unbind leaves the set).
		for _, id := range recompute {
			if _, ok := e.bindings[id]; !ok {
				return corruption.New(path, -1, "recompute record names page %d, which is not a derived page in the checkpoint", id)
			}
		}
		for _, id := range recompute {
			e.markRecompute(id)
		}
		e.recountPending() // the bindings and the dirty set were set directly
	}
	e.lastLSN, e.nextID, e.lastTime = st.LastLSN, st.NextID, st.LastTime
	return nil
}
