package tick

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mmsb-go/mmsb"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/ctxarg"
	"github.com/mmsb-go/mmsb/internal/metric"
)

// MinInterval is the shortest period Run accepts. A tick batches the
// deltas submitted since the last one and propagates them once; the
// design target is one tick per 16 ms frame (DefaultBudget). A period
// far below that batches nothing more and only burns CPU: with 1 ns
// (a typo for 1s, or a unit left off) the ticker fires again before a
// tick ends and Run ran ticks back to back, a whole core busy on an idle
// bus. 1 ms leaves sixteen times the design rate.
const MinInterval = time.Millisecond

// Defaults of Options.
const (
	DefaultBudget        = 16 * time.Millisecond
	DefaultQueueSize     = 1 << 16
	DefaultMetricsWindow = 1024
	// MaxRejectionReports bounds Result.Rejections; the count is exact.
	MaxRejectionReports = 64
	// DefaultMaxQueueBytes bounds the bytes Submit and SubmitBatch copy
	// into the intake queue (Options.MaxQueueBytes): 256 MiB, as much as
	// one log record holds.
	DefaultMaxQueueBytes = 256 << 20
)

// Upper bounds of the options that size memory up front. A larger value is
// refused with mmsb.ErrInvalidOption: the intake ring costs about 250 bytes
// per delta and the metrics window 8 bytes per tick and phase, so a typo'd
// size would otherwise end the process (out of memory) or, past 2^62, never
// finish rounding up to a power of two.
const (
	maxQueueSize     = 1 << 22
	maxMetricsWindow = 1 << 20
)

// Options configure an Orchestrator. The zero value is usable.
type Options struct {
	// QueueSize is the intake queue's capacity in deltas, rounded up to a
	// power of two (default 65536, at most 1<<22).
	QueueSize int
	// FailWhenFull makes Submit return mmsb.ErrBusy when the queue is full
	// instead of waiting for the next tick to make room.
	FailWhenFull bool
	// MaxQueueBytes bounds the bytes the intake queue holds in copies of
	// submitted deltas (run data, mask, payload, intent and the run
	// headers; default DefaultMaxQueueBytes). A Submit or
	// SubmitBatch that would pass it waits for a tick to drain the queue,
	// or returns mmsb.ErrBusy with FailWhenFull, as when the queue is full
	// of deltas; one that could never fit is refused with ErrDeltaTooLarge
	// or ErrBatchTooLarge. A copy counts until a tick commits or rejects
	// it, also while a tick keeps it because the commit did not happen.
	// SubmitNoCopy's deltas, which hold the caller's memory, do not
	// count. The copy buffers the queue keeps for reuse are bounded by it
	// too.
	MaxQueueBytes int
	// MaxBatch bounds the deltas one tick drains (default: QueueSize).
	MaxBatch int
	// Deferred selects deferred propagation: dirty pages accumulate across
	// ticks until FlushPropagation. The default (immediate) propagates in
	// every tick.
	Deferred bool
	// Budget is a tick's time budget (default 16 ms); ticks over it are
	// counted and reported with an EventTickOverrun.
	Budget time.Duration
	// MetricsWindow is how many recent ticks the latency percentiles cover
	// (default 1024, at most 1<<20).
	MetricsWindow int
	// SkipStartupResync: do not recompute every derived page at the first
	// propagation. By default the orchestrator schedules a resync of all
	// derived pages when it starts (Bus.ScheduleResync). Checkpoints and the
	// log's wave records (record.OpWave) keep the pages a failed recompute
	// held back, so a restart waits for exactly what the bus did; the resync
	// covers a log written before the wave record existed (replayed
	// conservatively) and functions registered since that compute
	// differently, which would otherwise leave derived pages stale until a
	// parent changes. Skip it when the functions are the ones that wrote
	// the log and the first wave's cost matters.
	SkipStartupResync bool
}

// check refuses an option out of range, naming the field, its value and
// the bound: it said "negative tick option in {QueueSize:-1 ...}" of
// every field, and "QueueSize 0 or MetricsWindow 1048577 over its limit"
// naming both (TestNewOptionErrorsNameTheField).
func (o *Options) check() error {
	for _, f := range []struct {
		name  string
		value int64
		max   int64 // 0: none
	}{
		{"QueueSize", int64(o.QueueSize), maxQueueSize},
		{"MaxQueueBytes", int64(o.MaxQueueBytes), 0},
		{"MaxBatch", int64(o.MaxBatch), 0},
		{"Budget", int64(o.Budget), 0},
		{"MetricsWindow", int64(o.MetricsWindow), maxMetricsWindow},
	} {
		if f.value < 0 {
			what := fmt.Sprint(f.value)
			if f.name == "Budget" {
				what = o.Budget.String()
			}
			return fmt.Errorf("%w: tick: %s %s is negative (0: the default)", mmsb.ErrInvalidOption, f.name, what)
		}
		if f.max != 0 && f.value > f.max {
			return fmt.Errorf("%w: tick: %s %d over its limit %d", mmsb.ErrInvalidOption, f.name, f.value, f.max)
		}
	}
	return nil
}

// errClosed is what the orchestrator returns once closed. It is
// mmsb.ErrClosed for errors.Is, but says that the orchestrator is closed:
// the bus's "bus closed" would be wrong, the bus may well be open.
var errClosed error = orchestratorClosedError{}

type orchestratorClosedError struct{}

func (orchestratorClosedError) Error() string { return "tick: orchestrator closed" }
func (orchestratorClosedError) Unwrap() error { return mmsb.ErrClosed }

// Phase is a stage of a tick, for metrics.
type Phase int

// Tick phases.
const (
	PhaseDrain      Phase = iota // moving submitted deltas out of the intake queue
	PhaseValidate                // validating them one by one
	PhaseCommit                  // logging and applying the valid ones (mmsb.Bus.Commit)
	PhasePropagate               // the propagation wave
	PhaseInvariants              // sampled invariant hooks
	PhasePublish                 // delivering events
	PhaseTotal                   // the whole tick
	NumPhases
)

// String names the phase.
func (p Phase) String() string {
	switch p {
	case PhaseDrain:
		return "drain"
	case PhaseValidate:
		return "validate"
	case PhaseCommit:
		return "commit"
	case PhasePropagate:
		return "propagate"
	case PhaseInvariants:
		return "invariants"
	case PhasePublish:
		return "publish"
	case PhaseTotal:
		return "total"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// Rejection is a submitted delta that failed validation.
type Rejection struct {
	Page   mmsb.PageID
	Source string
	Err    error
}

// Result describes one tick. Its slices (Rejections, Propagation.Writes,
// Propagation.Flags) are reused by the next tick: copy what you keep.
//
// Every delta the tick handled is counted once: Carried+Drained ==
// Committed+Rejected+Kept.
type Result struct {
	Tick              uint64
	Carried           int             // deltas kept by an earlier tick, first in line for this one
	Drained           int             // deltas taken from the queue
	Committed         int             // deltas committed
	Rejected          int             // deltas refused for a reason of their own (validation), or whose logged batch failed to become durable, or inside a bus Commit that panicked (ErrCommitPanicked)
	Kept              int             // deltas not committed because the commit did not happen (cancelled context, closed or failed bus, writes refused, a panic outside the bus's Commit) or did not fit in one log record (mmsb.ErrRecordTooLarge): kept, in order, for the next tick
	Rejections        []Rejection     // the first MaxRejectionReports rejections
	Commit            mmsb.CommitInfo // the committed batch (zero if none)
	Propagated        bool            // a propagation wave ran
	Propagation       mmsb.PropagateResult
	InvariantsRun     int
	InvariantFailures int
	Durations         [NumPhases]time.Duration
	Overrun           bool
}

// PhaseStats summarises one phase over the metrics window (P50, P99, by
// nearest rank: P99 of fewer than 100 ticks is the slowest) and over all
// ticks (Count, Mean, Max, Histogram).
type PhaseStats struct {
	Count          uint64
	Mean, P50, P99 time.Duration
	Max            time.Duration
	// Histogram holds every tick's duration of the phase, in seconds, in
	// fixed buckets from 10 µs to about 5 s (for exporters such as package
	// metrics; P50 and P99 cover the window only).
	Histogram mmsb.Histogram
}

// Metrics are cumulative orchestrator counters and latencies.
type Metrics struct {
	Ticks             uint64
	Overruns          uint64
	Drained           uint64
	Committed         uint64
	Rejected          uint64
	Recomputed        uint64 // derived pages recomputed, summed over PropagateResult.Recomputed (failed calls included, missing functions not: no call is made; a wave computed again counts each page once: mmsb.Metrics.PagesRecomputed counts every call)
	DerivedWrites     uint64 // derived deltas logged
	RecomputeFailures uint64
	InvariantRuns     uint64
	InvariantFailures uint64
	Budget            time.Duration
	QueueLen          int    // as QueueLen: queued deltas and those a tick kept
	QueueBytes        uint64 // as QueueBytes: bytes of the queued and kept copies
	Pending           int    // pages awaiting propagation: dirty, bound and not yet computed, or held back by a failed recompute
	Phases            [NumPhases]PhaseStats
}

type invariantHook struct {
	name  string
	every uint64
	fn    func() error
}

// reservoir keeps the last len(ring) samples of a phase plus running totals.
type reservoir struct {
	ring  []time.Duration
	n     uint64
	total time.Duration
	max   time.Duration
	hist  *metric.Histogram // nanoseconds, all ticks
}

// phaseBounds are the buckets of PhaseStats.Histogram, in nanoseconds:
// 10 µs .. ~5.2 s.
var phaseBounds = metric.Exponential(int64(10*time.Microsecond), 2, 20)

func (r *reservoir) add(d time.Duration) {
	r.ring[r.n%uint64(len(r.ring))] = d
	r.n++
	r.total += d
	r.max = max(r.max, d)
	r.hist.Observe(int64(d))
}

// stats returns the phase's statistics but its percentiles, and a copy of
// its window of samples, from which the caller fills them (percentiles)
// once it has released metricsMu. Caller holds metricsMu.
func (r *reservoir) stats() (PhaseStats, []time.Duration) {
	s := PhaseStats{Count: r.n, Max: r.max, Histogram: mmsb.Histogram(r.hist.Snapshot(1e9))}
	if r.n == 0 {
		return s, nil
	}
	s.Mean = r.total / time.Duration(r.n)
	k := min(r.n, uint64(len(r.ring)))
	return s, slices.Clone(r.ring[:k])
}

// percentiles sets s.P50 and s.P99 from w, the window stats returned
// (sorted here).
func percentiles(s *PhaseStats, w []time.Duration) {
	if len(w) == 0 {
		return
	}
	slices.Sort(w)
	s.P50, s.P99 = nearestRank(w, 50), nearestRank(w, 99)
}

// nearestRank returns the p-th percentile of sorted (not empty) by nearest
// rank: the sample of rank ⌈p·n/100⌉, so that P99 of fewer than 100 ticks
// is the slowest, as the validation harness computes it. (The sample at
// (n−1)·p/100 was the second slowest of 50.)
func nearestRank(sorted []time.Duration, p uint64) time.Duration {
	n := uint64(len(sorted))
	return sorted[max((p*n+99)/100, 1)-1]
}

// Orchestrator runs ticks over an Bus: it owns the intake queue, the
// invariant hooks, the tick metrics and the event subscriptions. Submit is
// safe from any number of goroutines; ticks run one at a time.
type Orchestrator struct {
	bus   *mmsb.Bus
	opts  Options
	queue *intakeQueue

	// tickMu serialises ticks and flushes and guards the fields below: a
	// mutex made of a channel of one slot (send locks, receive unlocks),
	// so that a Tick or FlushPropagation waiting for the one running waits
	// only until its context ends (lockTick). With a sync.Mutex, a flush
	// with a deadline waited for ever behind a tick held by a blocking
	// subscriber nobody read (TestTickWaitEndsWithItsContext).
	tickMu chan struct{}
	tick   uint64
	batch  intakeBatch
	kept   int // batch.ds[keptAt:keptAt+kept] are deltas an earlier tick could not commit
	keptAt int // where they start; the next tick moves them to the front
	result Result
	prop   mmsb.PropagateResult
	events []Event
	// rejEvents are the EventDeltaRejected of the tick, one per rejected
	// delta: Result.Rejections keeps only the first MaxRejectionReports.
	rejEvents []Event
	// commitErr is why the tick's commit did not happen and its deltas
	// were kept (EventCommitFailed); nil otherwise.
	commitErr error
	due       []invariantHook // the hooks due this tick (scratch)
	keep      []int           // indexes of rejected deltas (validate scratch)
	keepErrs  []error         // their errors (validate scratch)
	pubTo     []*Subscription // the subscriptions a publish delivers to (scratch)

	// hooksMu guards hooks. It is never held while a hook runs, so a hook
	// may register or unregister hooks (effective from the next tick).
	hooksMu sync.Mutex
	hooks   []invariantHook

	metricsMu sync.Mutex
	metrics   Metrics
	phases    [NumPhases]reservoir
	// percentileHook, set by tests, runs where Metrics sorts the windows.
	percentileHook func()
	// commitHook, set by tests, runs where a tick commits its batch (to
	// make the commit panic: the bus recovers the panics of the code it is
	// given, its clock, recompute functions and Replicator).
	commitHook func()
	// commitFunc, set by tests, replaces the bus's Commit in the tick's
	// commit (to make a panic come out of it after the batch was logged).
	commitFunc func(context.Context, []delta.Delta) (mmsb.CommitInfo, error)
	// validateFunc, set by tests, replaces the bus's ValidateBatch in the
	// tick's validation (to make a panic come out of it).
	validateFunc func([]delta.Delta, func(int, error)) (int, error)
	// propagateHook, set by tests, runs where a tick propagates (to make
	// a panic come out of the wave: the bus turns the panics of recompute
	// functions into errors).
	propagateHook func()
	// buildHook, set by tests, runs in buildEvents once the rejections
	// are in the tick's events, and deliverHook before publish delivers
	// to each subscription (to make a panic come out of either).
	buildHook   func()
	deliverHook func(i int)
	// cands and inCommit say, while a tick commits, which deltas a panic
	// out of the commit leaves undecided (commitPanicked): the candidates
	// batch.ds[:cands], of which the first inCommit are inside the bus's
	// Commit (0 outside it).
	cands, inCommit int

	subMu     sync.RWMutex
	subs      []*Subscription
	nextSubID uint64
	subMask   atomic.Uint32
	closed    atomic.Bool
	done      chan struct{} // closed by Close, so that Run stops waiting for its next tick
	keptLen   atomic.Int64  // kept, for QueueLen without tickMu

	ckptFailSeen uint64 // the bus's checkpoint failure count at the last tick; guarded by tickMu
	droppedKept  int    // kept deltas dropped once closed (Drain reports them); guarded by tickMu
}

// New returns an orchestrator over e. Unless SkipStartupResync,
// it schedules a recompute of every derived page at the first propagation.
// A nil bus is mmsb.ErrInvalidOption, a closed one mmsb.ErrClosed.
func New(e *mmsb.Bus, opts *Options) (*Orchestrator, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: tick orchestrator over a nil bus", mmsb.ErrInvalidOption)
	}
	if err := e.Err(); errors.Is(err, mmsb.ErrClosed) {
		// Refused here: the first Tick said it, far from the mistake.
		return nil, fmt.Errorf("tick: orchestrator over a closed bus: %w", err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = o.QueueSize
	}
	if o.MaxQueueBytes == 0 {
		o.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	if o.MetricsWindow == 0 {
		o.MetricsWindow = DefaultMetricsWindow
	}
	or := &Orchestrator{bus: e, opts: o, queue: newIntakeQueue(o.QueueSize, o.MaxQueueBytes), done: make(chan struct{}), tickMu: make(chan struct{}, 1)}
	for i := range or.phases {
		or.phases[i].ring = make([]time.Duration, o.MetricsWindow)
		or.phases[i].hist = metric.New(phaseBounds)
	}
	or.metrics.Budget = o.Budget
	or.ckptFailSeen, _ = e.CheckpointFailures()
	if !o.SkipStartupResync {
		e.ScheduleResync()
	}
	return or, nil
}

// Bus returns the bus the orchestrator drives.
func (o *Orchestrator) Bus() *mmsb.Bus { return o.bus }

// Submit queues a copy of d for the next tick: d's byte slices (run data,
// mask, payload, intent) are copied into the queue's reused buffers, so the
// caller may reuse d as soon as Submit returns. LSN, Epoch and Time are
// ignored. When the queue is full (of deltas, or of bytes: MaxQueueBytes)
// Submit waits for a tick to drain it (until ctx is done), or returns
// mmsb.ErrBusy with FailWhenFull. Validation happens at the tick: an
// invalid delta is rejected there, alone. Only a delta that could never be
// queued or committed is refused at once, with ErrDeltaTooLarge: one with
// a run or payload larger than the largest page (mmsb.MaxPageSize), or
// whose copy is larger than MaxQueueBytes.
func (o *Orchestrator) Submit(ctx context.Context, d *delta.Delta) error {
	if err := checkCtx(ctx, "tick.Orchestrator.Submit"); err != nil {
		return err
	}
	if d == nil {
		return errNilDelta
	}
	cost, err := o.checkSize(d, -1)
	if err != nil {
		return err
	}
	return o.queue.push(ctx, unsafe.Slice(d, 1), true, cost, o.opts.FailWhenFull)
}

// SubmitNoCopy is Submit without the copy: the queue keeps d's byte slices,
// and the caller must not modify them until the tick that commits or
// rejects d has returned (a tick that cannot commit keeps d for the next).
func (o *Orchestrator) SubmitNoCopy(ctx context.Context, d *delta.Delta) error {
	if err := checkCtx(ctx, "tick.Orchestrator.SubmitNoCopy"); err != nil {
		return err
	}
	if d == nil {
		return errNilDelta
	}
	if err := checkPageSize(d); err != nil {
		return err
	}
	return o.queue.push(ctx, unsafe.Slice(d, 1), false, 0, o.opts.FailWhenFull)
}

// checkCtx refuses a nil ctx with mmsb.ErrInvalidOption naming fn: every
// exported method of the package that takes a context calls it first
// (TestNilContextRefused).
func checkCtx(ctx context.Context, fn string) error {
	return ctxarg.Check(ctx, fn, mmsb.ErrInvalidOption)
}

// errNilDelta refuses a nil delta at Submit: the tick could only report it
// without a page, and copying it would dereference nil.
var errNilDelta = fmt.Errorf("%w: nil delta submitted", mmsb.ErrInvalidDelta)

// ErrDeltaTooLarge is returned (wrapped, naming the size and the bound) by
// Submit, SubmitNoCopy and SubmitBatch for a delta that could never be
// committed or queued: a run or a masked payload larger than the largest
// page (mmsb.MaxPageSize), or a copy larger than Options.MaxQueueBytes
// (Submit and SubmitBatch). Nothing is queued. It is also
// mmsb.ErrInvalidDelta for errors.Is.
var ErrDeltaTooLarge error = deltaTooLargeError{}

type deltaTooLargeError struct{}

func (deltaTooLargeError) Error() string { return "tick: delta too large" }
func (deltaTooLargeError) Unwrap() error { return mmsb.ErrInvalidDelta }

// checkPageSize refuses a delta that writes more bytes in one run, or
// carries a larger masked payload, than any page holds: no page could take
// it, so the tick would only reject it, and until then the queue would
// hold its bytes.
func checkPageSize(d *delta.Delta) error {
	for i := range d.Runs {
		if n := len(d.Runs[i].Data); n > mmsb.MaxPageSize {
			return fmt.Errorf("%w: page %d: run %d has %d bytes, the largest page holds %d", ErrDeltaTooLarge, d.Page, i, n, mmsb.MaxPageSize)
		}
	}
	if d.Form != delta.FormRuns && len(d.Payload) > mmsb.MaxPageSize {
		return fmt.Errorf("%w: page %d: masked payload has %d bytes, the largest page holds %d", ErrDeltaTooLarge, d.Page, len(d.Payload), mmsb.MaxPageSize)
	}
	return nil
}

// checkSize checks d as checkPageSize and returns the cost of queuing a
// copy of it (deltaCost), refused when it is over MaxQueueBytes: the delta
// would wait for room for ever. i is d's index in a batch, -1 for none.
func (o *Orchestrator) checkSize(d *delta.Delta, i int) (uint64, error) {
	err := checkPageSize(d)
	cost := deltaCost(d)
	if err == nil && cost > uint64(o.opts.MaxQueueBytes) {
		err = fmt.Errorf("%w: page %d: a copy of %d bytes, the intake queue holds at most %d (Options.MaxQueueBytes)", ErrDeltaTooLarge, d.Page, cost, o.opts.MaxQueueBytes)
	}
	if err != nil && i >= 0 {
		err = fmt.Errorf("tick: batch delta %d refused: %w", i, err)
	}
	return cost, err
}

// ErrBatchTooLarge is returned (wrapped, with both sizes) by SubmitBatch for
// a batch of more deltas (or bytes) than the intake queue can ever hold at
// once: it would wait for room for ever. Split the batch or raise
// Options.QueueSize (Options.MaxQueueBytes).
// It is also mmsb.ErrInvalidOption for errors.Is (a request the options
// refuse for good), so that the server answers InvalidArgument.
var ErrBatchTooLarge error = batchTooLargeError{}

type batchTooLargeError struct{}

func (batchTooLargeError) Error() string { return "tick: batch larger than the intake queue" }
func (batchTooLargeError) Unwrap() error { return mmsb.ErrInvalidOption }

// SubmitBatch queues copies of the deltas of ds, all or none: either every
// delta is accepted, in order and contiguous in the intake queue (no other
// submitter's delta between them), or none is and the error says why.
// Retrying a failed SubmitBatch therefore never submits a delta twice.
//
// Before queuing anything it checks every delta against the current state
// as the tick will (the page exists, the delta is well formed and within
// it), and refuses the whole batch for the first bad one with an error
// wrapping the bus's (mmsb.ErrPageNotFound, mmsb.ErrInvalidDelta) that
// names its index. An expected epoch (CheckEpoch) is not checked here:
// deltas queued before the batch may still move the page's epoch, so the
// tick checks it, and a delta valid here can still be rejected there
// alone (its page freed meanwhile, an epoch conflict).
//
// It then waits for room for the whole batch (until ctx is done), or
// returns mmsb.ErrBusy with FailWhenFull; a batch larger than the queue's
// capacity is refused at once with ErrBatchTooLarge. An empty batch queues
// nothing and returns nil. The deltas' bytes are copied, as by Submit.
//
// Accepted together does not mean committed together: a tick drains at
// most MaxBatch deltas and may cut a batch between two ticks, and each
// delta is validated at its tick on its own. Commit the batch through
// mmsb.Bus.Commit where it must apply atomically.
func (o *Orchestrator) SubmitBatch(ctx context.Context, ds []delta.Delta) error {
	if err := checkCtx(ctx, "tick.Orchestrator.SubmitBatch"); err != nil {
		return err
	}
	if o.closed.Load() {
		return errClosed
	}
	if len(ds) == 0 {
		return nil
	}
	if n := o.queue.capacity(); len(ds) > n {
		return fmt.Errorf("%w: %d deltas, the queue holds at most %d", ErrBatchTooLarge, len(ds), n)
	}
	var total uint64
	for i := range ds {
		cost, err := o.checkSize(&ds[i], i)
		if err != nil {
			return err
		}
		total += cost
	}
	if total > uint64(o.opts.MaxQueueBytes) {
		return fmt.Errorf("%w: a copy of %d deltas is %d bytes, the queue holds at most %d (Options.MaxQueueBytes)", ErrBatchTooLarge, len(ds), total, o.opts.MaxQueueBytes)
	}
	if err := o.checkBatch(ds); err != nil {
		return err
	}
	err := o.queue.push(ctx, ds, true, total, o.opts.FailWhenFull)
	if errors.Is(err, mmsb.ErrBusy) {
		// Name both bounds: the bytes may be held by deltas a tick kept,
		// out of the ring, with no cell taken.
		return fmt.Errorf("%w: no room for a batch of %d deltas (%d bytes): %d of %d cells queued, %d kept by a tick; %d of %d bytes held by queued and kept copies (MaxQueueBytes)",
			err, len(ds), total, o.queue.Len(), o.queue.capacity(), o.keptLen.Load(), o.queue.Bytes(), o.opts.MaxQueueBytes)
	}
	return err
}

// checkBatch validates ds against the current state, leaving out epoch
// conflicts (see SubmitBatch), and returns the first delta's failure.
func (o *Orchestrator) checkBatch(ds []delta.Delta) error {
	bad, badErr := -1, error(nil)
	_, err := o.bus.ValidateBatch(ds, func(i int, err error) {
		if bad < 0 && !errors.Is(err, mmsb.ErrConflict) {
			bad, badErr = i, err
		}
	})
	if err != nil {
		return fmt.Errorf("tick: validate batch of %d deltas: %w", len(ds), err)
	}
	if bad >= 0 {
		return fmt.Errorf("tick: batch of %d deltas refused at delta %d: %w", len(ds), bad, badErr)
	}
	return nil
}

// QueueLen returns about how many deltas wait in the intake queue, counting
// those a tick kept because it could not commit them. 0 once the
// orchestrator is closed: Close dropped them, and the queue gauge kept
// reporting them for ever.
func (o *Orchestrator) QueueLen() int {
	if o.closed.Load() {
		return 0
	}
	return o.queue.Len() + int(o.keptLen.Load())
}

// QueueBytes returns about how many bytes the copies of submitted deltas
// not yet committed or rejected hold, as Options.MaxQueueBytes counts them:
// those in the intake queue and those a tick kept because it could not
// commit them. 0 once the orchestrator is closed.
func (o *Orchestrator) QueueBytes() uint64 {
	if o.closed.Load() {
		return 0
	}
	return o.queue.Bytes()
}

// RegisterInvariant adds a named check run every `every` ticks (on ticks
// whose number is a multiple of every). Hooks run in name order, after
// propagation, with no engine lock held (they may read the engine). A
// failing hook is counted and reported as an EventInvariantFailed; it does
// not fail the tick.
//
// A hook runs inside Tick, on the ticking goroutine. It may read the bus,
// Submit (with FailWhenFull, or while the queue has room: a Submit that
// waits for room waits for a tick, and this tick is running the hook),
// Subscribe, close subscriptions, register or unregister hooks (from the
// next tick on), read Metrics and QueueLen, and Close the orchestrator. It
// must not call Tick, FlushPropagation or Drain: they wait for the running
// tick, which waits for the hook, until their ctx is done
// (TestHooksMayCallOrchestrator).
func (o *Orchestrator) RegisterInvariant(name string, every int, fn func() error) error {
	if name == "" || every < 1 || fn == nil {
		return fmt.Errorf("%w: invariant %q every %d ticks (need a name, every >= 1 and a function)", mmsb.ErrInvalidOption, name, every)
	}
	o.hooksMu.Lock()
	defer o.hooksMu.Unlock()
	i, found := slices.BinarySearchFunc(o.hooks, name, func(h invariantHook, n string) int {
		switch {
		case h.name < n:
			return -1
		case h.name > n:
			return 1
		}
		return 0
	})
	if found {
		return fmt.Errorf("%w: invariant %q already registered", mmsb.ErrInvalidOption, name)
	}
	o.hooks = slices.Insert(o.hooks, i, invariantHook{name: name, every: uint64(every), fn: fn})
	return nil
}

// UnregisterInvariant removes a hook (no error if absent).
func (o *Orchestrator) UnregisterInvariant(name string) {
	o.hooksMu.Lock()
	defer o.hooksMu.Unlock()
	o.hooks = slices.DeleteFunc(o.hooks, func(h invariantHook) bool { return h.name == name })
}

// Tick runs one tick: drain the intake queue, validate each delta
// (rejecting invalid ones individually), commit the valid ones as one batch
// through Bus.Commit, propagate (immediate mode), run the invariant
// hooks due, and publish events. Checkpoints happen inside Commit when due.
//
// A delta accepted by Submit is either committed or reported as rejected
// for a reason of its own (its validation, the failed durability of the
// batch it was logged in, or a size no log record can carry); it is never
// dropped because a tick could not run. A batch too large for one record
// (mmsb.ErrRecordTooLarge) commits the part that fits and keeps the rest
// for the next tick (Result.Kept). A tick whose commit does not happen (ctx
// done, bus closed or failed, writes refused) keeps the drained deltas, in
// order, ahead of the queue for the next tick (Result.Kept) and returns the
// error. A ctx already done when Tick is called returns ctx.Err() without
// draining. Ticks and flushes run one at a time: a Tick called while
// another one (or FlushPropagation) runs waits for it only until ctx is
// done (ctx.Err(), nothing drained) or the orchestrator closes (ErrClosed).
// A ctx that ends while the tick's events wait for the reader of
// a blocking subscription drops those events (counted in its Dropped)
// instead of holding the tick: what the tick committed stays committed.
//
// The error is non-nil when the commit failed as above, when a logged batch
// failed to become durable (its deltas are counted as rejected; the bus is
// failed then), or when a recompute function failed (a *RecomputeError: the
// tick's client deltas stay committed, the rest of the wave is applied, and
// the pages it held back are retried next tick), or wraps ErrCommitPanicked
// when the commit panicked (a defect: the tick recovers it and keeps or
// rejects the deltas as ErrCommitPanicked says). The result is filled in
// whenever the tick ran and is valid until the next tick. A panic out of
// the propagation wave (a defect of the bus, which turns the panics of
// recompute functions into errors) is not recovered: it escapes Tick,
// and the rejections of that tick are published by the next one, under
// their own tick's number; so are they, once, after a panic out of the
// tick's event building (its other events are lost). After a panic out
// of its publish, the subscriptions not yet served miss the tick's
// events, and none is published again.
func (o *Orchestrator) Tick(ctx context.Context) (*Result, error) {
	if err := checkCtx(ctx, "tick.Orchestrator.Tick"); err != nil {
		return nil, err
	}
	if err := o.lockTick(ctx); err != nil {
		return nil, err
	}
	defer o.unlockTick()
	if o.closed.Load() {
		return nil, errClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := time.Now()
	o.tick++
	r := &o.result
	*r = Result{Tick: o.tick, Rejections: r.Rejections[:0]}
	r.Propagation = mmsb.PropagateResult{}

	// Drain, after the deltas an earlier tick kept (they were submitted
	// before anything still queued).
	if o.kept == 0 {
		o.batch.reset()
	} else if o.keptAt > 0 {
		o.batch.keepRange(o.keptAt, o.kept)
		o.keptAt = 0
	}
	r.Carried = o.kept
	r.Drained = o.queue.drain(&o.batch, max(o.opts.MaxBatch-o.kept, 0))
	o.setKept(0)
	t := time.Now()
	r.Durations[PhaseDrain] = t.Sub(start)

	// Commit optimistically: Commit validates every delta and applies all
	// or nothing, so in the common case (every delta valid) there is one
	// validation pass. Only when it refuses the batch are the deltas
	// validated one by one and the valid ones committed.
	tickErr := o.commitReleasing(ctx, r)
	t2 := time.Now()
	r.Durations[PhaseCommit] = t2.Sub(t) - r.Durations[PhaseValidate]
	t = t2

	// Propagate.
	if !o.opts.Deferred && tickErr == nil {
		r.Propagated = true
		if o.propagateHook != nil {
			o.propagateHook()
		}
		tickErr = o.bus.PropagateInto(ctx, &o.prop)
		r.Propagation = o.prop
	}
	t2 = time.Now()
	r.Durations[PhasePropagate] = t2.Sub(t)

	// Invariants, from a snapshot of the hooks taken without holding
	// hooksMu while they run (a hook may change the set). None after a
	// commit that panicked: a panic out of the bus's Commit may have left
	// the bus's lock held, and a hook reading the bus would then hold
	// this tick, and its report of the panic, for ever.
	var invErrs []hookFailure
	o.hooksMu.Lock()
	o.due = o.due[:0]
	for _, h := range o.hooks {
		if o.tick%h.every == 0 && !errors.Is(tickErr, ErrCommitPanicked) {
			o.due = append(o.due, h)
		}
	}
	o.hooksMu.Unlock()
	for _, h := range o.due {
		r.InvariantsRun++
		if err := callHook(h.fn); err != nil {
			r.InvariantFailures++
			invErrs = append(invErrs, hookFailure{h.name, err})
		}
	}
	t = time.Now()
	r.Durations[PhaseInvariants] = t.Sub(t2)

	total := t.Sub(start)
	r.Overrun = total > o.opts.Budget

	// Checkpoints run in the background (started by commits): their
	// failures surface here, at the first tick that sees them.
	var ckptErr error
	if n, err := o.bus.CheckpointFailures(); n > o.ckptFailSeen {
		o.ckptFailSeen, ckptErr = n, err
	}

	// Events, in deterministic order. The rejections and the commit's
	// failure are forgotten once they are in the tick's events, before
	// the publish: a panic out of the publish (a defect) then leaves
	// nothing that the next tick would publish again. Events that a
	// subscription had received before such a panic were published twice
	// (TestPanickedPublishDeliversOnce): the next tick published the
	// rejections once more, and its events after the whole of this one's.
	o.buildEvents(r, tickErr, invErrs, ckptErr, total)
	clear(o.rejEvents) // drop error references
	o.rejEvents, o.commitErr = o.rejEvents[:0], nil
	if cap(o.rejEvents) > maxKeptEvents {
		o.rejEvents = nil
	}
	o.publish(ctx)
	end := time.Now()
	r.Durations[PhasePublish] = end.Sub(t)
	r.Durations[PhaseTotal] = end.Sub(start)
	o.record(r, tickErr)
	return r, tickErr
}

type hookFailure struct {
	name string
	err  error
}

// callHook runs an invariant hook, turning a panic into a failure.
func callHook(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return fn()
}

// validate checks every drained delta against the current state, moving
// the valid ones (in submission order) to the front of the batch and
// recording the rest in r. It returns the number of valid deltas, or the
// error that kept it from validating (the bus is closed): nothing is
// rejected then.
func (o *Orchestrator) validate(r *Result) (int, error) {
	b := &o.batch
	if len(b.ds) == 0 {
		return 0, nil
	}
	o.keep, o.keepErrs = o.keep[:0], o.keepErrs[:0]
	// ValidateBatch fails only before it calls back (closed bus), so a
	// failure leaves nothing rejected. The rejections are recorded once it
	// has returned: a panic out of it (commitPanicked keeps every
	// candidate) must leave none counted both rejected and kept.
	_, err := o.busValidate(b.ds, func(i int, err error) {
		o.keep = append(o.keep, i)
		o.keepErrs = append(o.keepErrs, err)
	})
	if err != nil {
		return 0, err
	}
	for k, i := range o.keep {
		o.reject(r, &b.ds[i], o.keepErrs[k])
	}
	clear(o.keepErrs) // drop error references
	// Move the accepted deltas, in submission order, to the front.
	valid, next := 0, 0
	for i := range b.ds {
		if next < len(o.keep) && o.keep[next] == i {
			next++
			continue
		}
		b.swap(valid, i)
		valid++
	}
	return valid, nil
}

func (o *Orchestrator) reject(r *Result, d *delta.Delta, err error) {
	r.Rejected++
	if len(r.Rejections) < MaxRejectionReports {
		r.Rejections = append(r.Rejections, Rejection{Page: d.Page, Source: d.Source, Err: err})
	}
	if o.wantsType(EventDeltaRejected) {
		// Numbered now, not when published: a panic out of the wave (a
		// defect of the bus; it escapes Tick) leaves them to the next
		// tick's publish, which numbered them as its own
		// (TestRejectionsOfPanickedTickKeepTheirTick).
		o.rejEvents = append(o.rejEvents, Event{Type: EventDeltaRejected, Tick: o.tick, Page: d.Page, Err: err, Name: d.Source})
	}
}

// commit commits the batch. When Commit refuses it because a delta is
// invalid (or conflicts), it validates the deltas one by one, rejects the
// bad ones individually, and commits the rest; it retries once more if the
// state changed in between (another writer using the bus directly).
//
// When the batch does not fit in one log record (mmsb.ErrRecordTooLarge: a
// Replicator's message limit), it commits the longest prefix that fits,
// halving until one does, and keeps the rest for the next tick; a delta
// that does not fit even alone is rejected. Keeping the whole batch would
// refuse it again at every tick, so that nothing would ever commit again.
//
// When the commit does not happen for a reason that is no delta's own (ctx
// done, bus closed or failed, writes refused, or the state still moving
// after the retries), the candidates are kept, in order, for the next tick.
// Only a batch that was logged but failed to become durable is rejected as
// a whole: it is applied but was never acknowledged, and cannot be retried.
func (o *Orchestrator) commit(ctx context.Context, r *Result) error {
	n := len(o.batch.ds) // the candidates: batch.ds[:n]
	m := n               // how many of them the next Commit takes
	for validations := 0; ; {
		o.cands, o.inCommit = n, m
		ci, err := o.busCommit(ctx, o.batch.ds[:m])
		o.inCommit = 0
		if err == nil {
			r.Commit, r.Committed = ci, m
			o.keepTail(r, m, n)
			return nil
		}
		if ci.LastLSN != 0 {
			for i := range o.batch.ds[:m] {
				o.reject(r, &o.batch.ds[i], err)
			}
			o.keepTail(r, m, n)
			return fmt.Errorf("mmsb: tick %d: commit of %d deltas: %w", o.tick, m, err)
		}
		if errors.Is(err, mmsb.ErrRecordTooLarge) {
			if m > 1 {
				m = (m + 1) / 2
				continue
			}
			o.reject(r, &o.batch.ds[0], err)
			o.keepTail(r, 1, n)
			return nil
		}
		// A failed bus's error wraps its cause, which may be one of these
		// sentinels: it is no caller's invalid delta.
		invalid := !errors.Is(err, mmsb.ErrFailed) && !errors.Is(err, mmsb.ErrClosed) &&
			(errors.Is(err, mmsb.ErrInvalidDelta) || errors.Is(err, mmsb.ErrPageNotFound) || errors.Is(err, mmsb.ErrConflict))
		if !invalid || validations == 2 {
			o.keepBatch(r, n)
			o.commitErr = fmt.Errorf("mmsb: tick %d: commit of %d deltas (kept for the next tick): %w", o.tick, n, err)
			return o.commitErr
		}
		validations++
		// Validate only the current candidates (a prefix of the batch); the
		// rejected tail is cleared so that it holds no caller memory.
		o.truncateBatch(n)
		vs := time.Now()
		valid, verr := o.validate(r)
		r.Durations[PhaseValidate] += time.Since(vs)
		if verr != nil {
			o.keepBatch(r, n)
			o.commitErr = fmt.Errorf("mmsb: tick %d: validate %d deltas (kept for the next tick): %w", o.tick, n, verr)
			return o.commitErr
		}
		if n = valid; n == 0 {
			return nil
		}
		o.cands = n
		m = min(m, n)
	}
}

// busValidate validates ds through the bus (or the test's validateFunc).
func (o *Orchestrator) busValidate(ds []delta.Delta, reject func(int, error)) (int, error) {
	if o.validateFunc != nil {
		return o.validateFunc(ds, reject)
	}
	return o.bus.ValidateBatch(ds, reject)
}

// busCommit commits ds through the bus (or the test's commitFunc).
func (o *Orchestrator) busCommit(ctx context.Context, ds []delta.Delta) (mmsb.CommitInfo, error) {
	if o.commitFunc != nil {
		return o.commitFunc(ctx, ds)
	}
	return o.bus.Commit(ctx, ds)
}

// truncateBatch cuts the batch to its first n entries, clearing the rest so
// that it holds no caller memory.
func (o *Orchestrator) truncateBatch(n int) {
	clear(o.batch.ds[n:])
	o.batch.ds, o.batch.bufs, o.batch.runs, o.batch.costs = o.batch.ds[:n], o.batch.bufs[:n], o.batch.runs[:n], o.batch.costs[:n]
}

// keepBatch keeps the batch's first n deltas, in order, for the next tick.
func (o *Orchestrator) keepBatch(r *Result, n int) { o.keepTail(r, 0, n) }

// keepTail keeps the candidates batch.ds[from:n], in order, for the next
// tick. The entries before them (committed or rejected by this tick) stay
// in place until the tick's events are built; the next tick moves the kept
// ones to the front.
func (o *Orchestrator) keepTail(r *Result, from, n int) {
	o.truncateBatch(n)
	o.keptAt = from
	o.setKept(n - from)
	r.Kept = n - from
}

// commitReleasing commits the batch (commit) and then gives back the bytes
// of the deltas it committed or rejected (releaseBatch). The bus turns the
// panics of the code it is given (a Replicator's too) into errors; a panic
// out of the commit all the same (a defect) is recovered here, after the
// release is deferred, so that the release sees the deltas it keeps. The
// panic escaped the tick before: the drained deltas, accepted, were left
// to the next tick's reset, neither committed nor reported
// (TestCommitPanicKeepsDeltas); and before the release was deferred, their
// bytes were never given back either, so that Submit waited for ever once
// such panics added up to MaxQueueBytes. See commitPanicked.
func (o *Orchestrator) commitReleasing(ctx context.Context, r *Result) (err error) {
	defer o.releaseBatch(o.batch.cost(0, len(o.batch.ds)))
	if len(o.batch.ds) == 0 {
		return nil
	}
	o.cands, o.inCommit = len(o.batch.ds), 0
	defer func() {
		if v := recover(); v != nil {
			err = o.commitPanicked(r, v)
		}
	}()
	if o.commitHook != nil {
		o.commitHook()
	}
	return o.commit(ctx, r)
}

// ErrCommitPanicked is wrapped by the error of a tick whose commit
// panicked (a defect of the bus or of this package: the bus turns the
// panics of the code it is given into errors). The tick recovers the
// panic and returns that error, naming the panic's value: the deltas that
// were not inside the bus's Commit when it panicked are kept, in order,
// for the next tick (Result.Kept, as when the commit does not happen);
// those that were are rejected, each with this error (Result.Rejections,
// EventDeltaRejected), because whether the bus logged them is not known
// and a retry could commit them twice. Such a tick neither propagates nor
// runs invariant hooks (a panic out of the bus's own Commit fails the bus,
// and one from elsewhere may leave it in any state), and Run
// returns its error.
var ErrCommitPanicked = errors.New("tick: commit panicked")

// commitPanicked settles the candidates of a commit that panicked with v
// (see ErrCommitPanicked) and returns the tick's error.
func (o *Orchestrator) commitPanicked(r *Result, v any) error {
	perr := fmt.Errorf("%w: tick %d: %v", ErrCommitPanicked, o.tick, v)
	n, m := o.cands, o.inCommit
	for i := range o.batch.ds[:m] {
		o.reject(r, &o.batch.ds[i], perr)
	}
	o.keepTail(r, m, n)
	o.commitErr = fmt.Errorf("%w (%d deltas inside the bus's Commit rejected, %d kept for the next tick)", perr, m, n-m)
	return o.commitErr
}

// releaseBatch gives back to the intake queue's byte bound the bytes of
// the deltas this tick is done with: held is what the whole batch held
// before the commit, less what the deltas it keeps still hold. Kept
// deltas stay counted until a tick commits or rejects them: released at
// drain, they let a bus that refuses writes hold a whole MaxBatch of
// copies, MaxQueueBytes more at every tick (TestKeptDeltasWithinByteBound).
func (o *Orchestrator) releaseBatch(held uint64) {
	if n := held - o.batch.cost(o.keptAt, o.keptAt+o.kept); n > 0 {
		o.queue.releaseBytes(n)
		o.queue.wakeWaiters()
	}
}

// setKept records how many deltas the batch keeps for the next tick.
func (o *Orchestrator) setKept(n int) {
	o.kept = n
	o.keptLen.Store(int64(n))
}

// buildEvents fills o.events for the tick, skipping types nobody wants.
//
// It starts from an empty list: the events left by a build or publish that
// a panic ended (a defect) are dropped. The rejections and the commit's
// failure of such a build are still held (o.rejEvents, o.commitErr) and
// are built again here, once; the rest of that tick's events are lost.
// The next tick published the whole of them again before
// (TestPanickedBuildDeliversOnce): those built before the panic twice.
func (o *Orchestrator) buildEvents(r *Result, tickErr error, inv []hookFailure, ckptErr error, total time.Duration) {
	o.dropEvents()
	if o.subMask.Load() == 0 {
		return
	}
	add := func(ev Event) {
		ev.Tick = o.tick
		o.events = append(o.events, ev)
	}
	if o.wantsType(EventDeltaRejected) {
		// Each keeps the number of the tick that rejected it (see reject).
		o.events = append(o.events, o.rejEvents...)
	}
	if o.buildHook != nil {
		o.buildHook()
	}
	if o.wantsType(EventDeltaCommitted) {
		for i := range o.batch.ds[:r.Committed] {
			d := &o.batch.ds[i]
			add(Event{Type: EventDeltaCommitted, Page: d.Page, LSN: d.LSN, Epoch: d.Epoch})
		}
	}
	var propErr error // the wave's error: tickErr is the commit's when it failed
	if r.Propagated {
		propErr = tickErr
	}
	o.propagationEvents(&r.Propagation, propErr, add)
	if o.wantsType(EventInvariantFailed) {
		for _, f := range inv {
			add(Event{Type: EventInvariantFailed, Name: f.name, Err: f.err})
		}
	}
	if ckptErr != nil && o.wantsType(EventCheckpointFailed) {
		add(Event{Type: EventCheckpointFailed, Err: ckptErr})
	}
	if o.commitErr != nil && o.wantsType(EventCommitFailed) {
		add(Event{Type: EventCommitFailed, Err: o.commitErr})
	}
	if r.Overrun && o.wantsType(EventTickOverrun) {
		add(Event{Type: EventTickOverrun, Duration: total})
	}
}

// propagationEvents adds the events of a wave: recomputed pages and raised
// flags merged in LSN order, or the recompute failure.
func (o *Orchestrator) propagationEvents(p *mmsb.PropagateResult, err error, add func(Event)) {
	wantW, wantF := o.wantsType(EventPageRecomputed), o.wantsType(EventFlagRaised)
	if wantW || wantF {
		// Writes precede flags in the wave's record, so LSN order is writes
		// then flags.
		if wantW {
			for _, w := range p.Writes {
				add(Event{Type: EventPageRecomputed, Page: w.Page, LSN: w.LSN, Epoch: w.Epoch})
			}
		}
		if wantF {
			for _, f := range p.Flags {
				add(Event{Type: EventFlagRaised, Page: f.Page, LSN: f.LSN, Flags: f.Raised})
			}
		}
	}
	if err == nil {
		return
	}
	err = o.recomputeFailureEvents(p, err, add)
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// The caller ended the tick: it knows.
	default:
		if o.wantsType(EventPropagationFailed) {
			add(Event{Type: EventPropagationFailed, Err: err})
		}
	}
}

// recomputeFailureEvents adds the EventRecomputeFailed of a wave whose
// error err (not nil) holds a recompute failure, and returns err less that
// failure (err itself when it holds none). It is apart from
// propagationEvents, and called only with an error, because errors.As
// takes the address of its target: declared there, the target escaped to
// the heap at every tick, an allocation per idle tick with a subscriber
// (TestIdleTickAllocatesNothing).
func (o *Orchestrator) recomputeFailureEvents(p *mmsb.PropagateResult, err error, add func(Event)) error {
	var re *mmsb.RecomputeError
	if errors.As(err, &re) {
		if o.wantsType(EventRecomputeFailed) {
			add(Event{Type: EventRecomputeFailed, Page: re.Page, Name: re.Func, Err: re.Err})
			// The other functions that failed in the wave (p.Failed, in
			// the wave's order) get one each too: a subscriber following
			// such a page heard nothing of it, only of the wave's first
			// failure (TestEveryFailedFunctionReported). The wave keeps
			// only the first failure's error.
			for _, id := range p.Failed {
				if id == re.Page {
					continue
				}
				b, _ := o.bus.Binding(id)
				add(Event{Type: EventRecomputeFailed, Page: id, Name: b.Func, Err: fmt.Errorf(
					"%w: page %d, function %q, in the wave whose first failure was page %d (only that failure's error is kept)",
					mmsb.ErrRecompute, id, b.Func, re.Page)})
			}
		}
		// A wave whose commit then failed returns both errors joined: the
		// commit's is reported too. Only the recompute failure was, and
		// its event says the rest of the wave was applied, while a
		// refused record (ErrRecordTooLarge, the log's growth bound) or a
		// closed bus applied nothing (TestRefusedWaveWithRecomputeFailureReportsBoth).
		err = withoutRecomputeError(err, re)
	}
	return err
}

// withoutRecomputeError returns err less the recompute failure re, which
// it holds: the other errors when err joins re with them (the commit's
// failure, see mmsb.Bus.PropagateInto), nil when err is re (wrapped or not).
func withoutRecomputeError(err error, re *mmsb.RecomputeError) error {
	// Type assertions on err itself, not on what it wraps: a
	// RecomputeError unwraps to two errors too, but is no join.
	if _, isRE := err.(*mmsb.RecomputeError); isRE { //nolint:errorlint // see above
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error }) //nolint:errorlint // see above
	if !ok {
		return nil
	}
	var rest []error
	for _, e := range j.Unwrap() {
		if !errors.Is(e, re) {
			rest = append(rest, e)
		}
	}
	switch len(rest) {
	case 0:
		return nil
	case 1:
		return rest[0]
	}
	return errors.Join(rest...)
}

// record folds a tick into the metrics.
func (o *Orchestrator) record(r *Result, err error) {
	o.metricsMu.Lock()
	defer o.metricsMu.Unlock()
	m := &o.metrics
	m.Ticks++
	if r.Overrun {
		m.Overruns++
	}
	m.Drained += uint64(r.Drained)
	m.Committed += uint64(r.Committed)
	m.Rejected += uint64(r.Rejected)
	m.Recomputed += uint64(r.Propagation.Recomputed)
	m.DerivedWrites += uint64(len(r.Propagation.Writes))
	if errors.Is(err, mmsb.ErrRecompute) {
		m.RecomputeFailures++
	}
	m.InvariantRuns += uint64(r.InvariantsRun)
	m.InvariantFailures += uint64(r.InvariantFailures)
	for i := range r.Durations {
		o.phases[i].add(r.Durations[i])
	}
}

// Metrics returns the counters and per-phase latency statistics. The
// windows of samples are copied under metricsMu and sorted for the
// percentiles after it is released: every tick records its durations
// under it, and the sorts of the seven windows (MetricsWindow samples
// each, up to 2^20) held the next tick back for as long as a scrape took.
func (o *Orchestrator) Metrics() Metrics {
	var windows [NumPhases][]time.Duration
	o.metricsMu.Lock()
	m := o.metrics
	for i := range o.phases {
		m.Phases[i], windows[i] = o.phases[i].stats()
	}
	o.metricsMu.Unlock()
	if o.percentileHook != nil {
		o.percentileHook()
	}
	for i := range windows {
		percentiles(&m.Phases[i], windows[i])
	}
	m.QueueLen = o.QueueLen() // kept deltas wait for a tick too
	m.QueueBytes = o.QueueBytes()
	m.Pending = o.bus.Pending()
	return m
}

// FlushPropagation runs a propagation wave now (the explicit flush of
// deferred mode; harmless in immediate mode) and publishes its events under
// the current tick number. Behind a running tick it waits as Tick does,
// until ctx is done or the orchestrator closes. The result is the caller's: the next tick or
// flush does not touch it (it returned the orchestrator's own, which the
// next wave overwrote, under Run while the caller read it:
// TestFlushResultOwnedByCaller).
func (o *Orchestrator) FlushPropagation(ctx context.Context) (*mmsb.PropagateResult, error) {
	if err := checkCtx(ctx, "tick.Orchestrator.FlushPropagation"); err != nil {
		return nil, err
	}
	if err := o.lockTick(ctx); err != nil {
		return nil, err
	}
	defer o.unlockTick()
	if o.closed.Load() {
		return nil, errClosed
	}
	err := o.bus.PropagateInto(ctx, &o.prop)
	o.metricsMu.Lock()
	o.metrics.Recomputed += uint64(o.prop.Recomputed)
	o.metrics.DerivedWrites += uint64(len(o.prop.Writes))
	if errors.Is(err, mmsb.ErrRecompute) {
		o.metrics.RecomputeFailures++
	}
	o.metricsMu.Unlock()
	if o.subMask.Load() != 0 {
		o.dropEvents() // a panicked tick's (see buildEvents)
		o.propagationEvents(&o.prop, err, func(ev Event) {
			ev.Tick = o.tick
			o.events = append(o.events, ev)
		})
		o.publish(ctx)
	}
	res := o.prop
	res.Writes, res.Flags, res.Failed = slices.Clone(o.prop.Writes), slices.Clone(o.prop.Flags), slices.Clone(o.prop.Failed)
	return &res, err
}

// Run ticks every interval until ctx is done (returning nil) or the engine
// fails or closes, or a tick's commit panics (returning that error). Tick errors that leave the engine
// usable (recompute failures) are reported through events and metrics and
// do not stop the loop. Deltas submitted but not committed when Run returns
// (still queued, or kept by a tick that ctx interrupted) stay in line: a
// later Tick or Run commits them. A tick whose commit panicked stops Run
// too, returning its error (ErrCommitPanicked): a defect that may have
// left the bus unusable, which a loop going on would hide
// (TestRunStopsOnCommitPanic). An interval below MinInterval (1 ms)
// is refused with mmsb.ErrInvalidOption naming it and the bound
// (TestRunIntervalBelowMinimum): it ran ticks back to back.
//
// The orchestrator's Close stops Run at once (mmsb.ErrClosed), without
// waiting for the next tick; closed and ctx done both is ErrClosed
// (TestRunClosedAndCancelled). A bus closed or failed is seen at the next
// tick, also in deferred mode, where an idle tick does not touch the bus
// (TestRunStopsWhenClosed).
func (o *Orchestrator) Run(ctx context.Context, interval time.Duration) error {
	if err := checkCtx(ctx, "tick.Orchestrator.Run"); err != nil {
		return err
	}
	// 0 and negative intervals too: "tick interval 0s" did not say the
	// bound (TestRunIntervalBelowMinimum).
	if interval < MinInterval {
		return fmt.Errorf("%w: tick interval %v is below the minimum %v (MinInterval)", mmsb.ErrInvalidOption, interval, MinInterval)
	}
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			// Closed and cancelled both: ErrClosed, whichever channel the
			// select happened to pick (it picks at random among ready ones).
			if o.closed.Load() {
				return errClosed
			}
			return nil
		case <-o.done:
			return errClosed
		case <-tk.C:
		}
		_, err := o.Tick(ctx)
		if err == nil {
			// A tick that neither commits nor propagates (deferred mode,
			// nothing queued) does not learn that the bus is gone.
			err = o.bus.Err()
		}
		if err != nil {
			if ctx.Err() != nil {
				if o.closed.Load() {
					return errClosed
				}
				return nil
			}
			if errors.Is(err, mmsb.ErrClosed) || errors.Is(err, mmsb.ErrFailed) || errors.Is(err, ErrCommitPanicked) {
				return err
			}
		}
	}
}

// Drain ticks until no submitted delta waits (QueueLen 0): each is
// committed, or rejected by its tick, as a tick does. It is the graceful
// stop before Close, which drops what waits: call it once Run has
// returned and nothing submits any more (Submits meanwhile are drained
// too, as long as they keep coming). It returns how many deltas still
// wait and why, when ctx ended or a tick left the queue no shorter (a
// bus that refuses writes: its error). On an orchestrator closed before
// or while it drains, where Close dropped submitted deltas uncommitted, it
// returns their number and mmsb.ErrClosed (it returned 0, nil, as if all
// were committed: TestDrainReportsWhatCloseDropped); 0, nil where Close
// dropped none. A tick whose commit panicked stops it, as it stops Run: it
// returns the deltas still waiting and that tick's error
// (ErrCommitPanicked). A tick still running then (Close does not wait for it) is
// waited for only until ctx is done: Drain then returns ErrClosed and
// ctx's error, with the deltas known to wait, not those that tick took
// (TestDrainClosedWaitEndsWithCtx).
func (o *Orchestrator) Drain(ctx context.Context) (int, error) {
	if err := checkCtx(ctx, "tick.Orchestrator.Drain"); err != nil {
		return 0, err
	}
	for {
		n := o.QueueLen()
		if o.closed.Load() {
			left, err := o.droppedByClose(ctx)
			if err != nil {
				return left, fmt.Errorf("%w: %d submitted deltas dropped uncommitted, not counting those the tick still running took: %w", errClosed, left, err)
			}
			if left > 0 {
				return left, fmt.Errorf("%w: %d submitted deltas dropped uncommitted", errClosed, left)
			}
			return 0, nil
		}
		if n == 0 {
			return 0, nil
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		_, err := o.Tick(ctx)
		if o.closed.Load() {
			continue // closed during the tick: report what Close dropped
		}
		if errors.Is(err, ErrCommitPanicked) {
			// A defect, as for Run: ticking on would hide it, and Drain
			// returned 0, nil once the next tick committed what the
			// panic kept, its rejections seen by nobody
			// (TestDrainStopsOnCommitPanic).
			return o.QueueLen(), err
		}
		if left := o.QueueLen(); left >= n {
			if err == nil {
				err = fmt.Errorf("tick: a tick left %d of %d submitted deltas waiting", left, n)
			}
			return left, err
		}
	}
}

// droppedByClose returns how many submitted deltas a closed orchestrator
// dropped: those a tick had kept, and those still in the intake queue
// (which nothing drains once closed). It waits for a tick still running
// (held by no subscriber once closed, but maybe by a slow recompute
// function, or the caller is its own invariant hook) only until ctx is
// done: it waited for ever whatever ctx said
// (TestDrainClosedWaitEndsWithCtx). Then it returns ctx's error with the
// deltas known to wait: queued, or kept if that tick has not taken them
// yet; those it took, which it will commit, reject or keep, are left out.
// A free lock is taken whatever ctx says, as lockTick does: a select on
// both picked one at random when ctx was done already, and answered half
// the time with ctx's error and a count without the kept deltas Close
// dropped (TestDrainClosedDoneCtxTakesFreeLock).
func (o *Orchestrator) droppedByClose(ctx context.Context) (int, error) {
	if !o.tryLockTick() {
		select {
		case o.tickMu <- struct{}{}:
		case <-ctx.Done():
			return int(o.keptLen.Load()) + o.queue.Len(), ctx.Err()
		}
	}
	n := o.kept + o.droppedKept // whichever side of the drop at the last unlock
	o.unlockTick()
	return n + o.queue.Len(), nil
}

// Close stops the orchestrator: later Submits and ticks fail with
// ErrClosed, waiting submitters are released, Run returns ErrClosed,
// subscriptions are closed.
// Deltas still queued, or kept by a tick that could not commit them, are
// dropped (Drain before Close commits them; a Drain running or called
// once closed returns their number with ErrClosed). It does not close the
// engine.
//
// Close does not wait for a running tick: that tick completes (what it
// committed stays committed, its events go nowhere) and drops the batch
// when it ends. Waiting would deadlock a Close called from an invariant
// hook or a blocking subscription's reader, which the running tick waits
// for.
func (o *Orchestrator) Close() error {
	if o.closed.Swap(true) {
		return nil
	}
	close(o.done)
	o.queue.close()
	o.closeSubscriptions()
	if o.tryLockTick() {
		o.unlockTick()
	}
	return nil
}

// unlockTick releases tickMu. Once the orchestrator is closed, whoever
// releases tickMu last drops the batch's references to callers' memory
// (no-copy submits, kept deltas): Close only does it itself when no tick
// holds the lock. The check comes after the unlock, so that a Close that
// found the lock held while this tick had already checked is still seen.
func (o *Orchestrator) unlockTick() {
	<-o.tickMu
	if o.closed.Load() && o.tryLockTick() {
		o.batch.reset()
		o.droppedKept += o.kept
		o.setKept(0)
		o.keptAt = 0
		<-o.tickMu
	}
}

// lockTick takes tickMu for a tick or a flush. It waits for the tick or
// flush running only until ctx is done (returning ctx's error) or the
// orchestrator is closed (ErrClosed): a tick can be held for long by the
// reader of a blocking subscription, or by a slow recompute function, and
// a caller's deadline must bound its wait. A free lock is taken whatever
// ctx says: the caller then reports closed and done contexts as before.
func (o *Orchestrator) lockTick(ctx context.Context) error {
	if o.tryLockTick() {
		return nil
	}
	select {
	case o.tickMu <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-o.done:
		return errClosed
	}
}

// tryLockTick takes tickMu if it is free.
func (o *Orchestrator) tryLockTick() bool {
	select {
	case o.tickMu <- struct{}{}:
		return true
	default:
		return false
	}
}
