package engine

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/delta"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
)

// parallelMin is the batch size from which a batch is validated, encoded
// and applied by several workers; below it the hand-off costs more than it
// saves.
const parallelMin = 256

// shardShift groups 16 consecutive slots into one apply shard, so that the
// per-slot epoch and LSN words one worker writes never share a cache line
// with another worker's (false sharing made 2 workers slower than 1).
const shardShift = 4

// parallelApplier runs the two parallel phases of a large commit with a
// fixed set of goroutines:
//
//   - check+encode: the batch is cut into contiguous chunks, one per worker;
//     each validates its deltas and encodes them into its own buffer; the
//     buffers are concatenated in chunk order, so the log holds the batch in
//     submission order whatever the worker count.
//   - apply: deltas are sharded by slot (so by page): worker w applies the
//     deltas whose slot>>shardShift % workers == w, in batch order. Per-page order is
//     batch order, and the result equals serial application for any worker
//     count.
type parallelApplier struct {
	workers int
	bufs    [][]byte
	errs    []error

	// Hand-off. A job is published by storing its kind and bumping seq;
	// workers spin briefly on seq before parking on their wake channel
	// (commits usually come back to back, and a futex wake-up per phase
	// cost more than the phase saved). pending counts workers still
	// running the current job.
	seq     atomic.Uint64
	job     jobKind
	pending atomic.Int32
	parked  []atomic.Bool
	wake    []chan struct{}
	quit    atomic.Bool

	// The current job's arguments, set before seq is bumped (the atomic
	// orders these writes before the workers' reads). Fields rather than a
	// closure, so that a commit allocates nothing.
	e        *Engine
	ds       []delta.Delta
	slots    []page.Slot
	first    base.LSN
	now      int64
	histFrom int
}

type jobKind uint8

const (
	jobCheckEncode jobKind = iota
	jobApply
)

// spinFor is how long an idle worker polls for the next job (yielding its
// P every 64 polls) before it parks. It must exceed the usual gap between
// two commits of a busy committer (building the next batch): with a short
// spin every phase paid a futex wake-up and 2 workers ran slower than 1
// (measured: 6.5M vs 8.0M deltas/s; with this spin 11.2M vs 8.4M). The
// price is up to spinFor of CPU after the last commit of a burst.
const spinFor = 500 * time.Microsecond

func newParallelApplier(workers int) *parallelApplier {
	p := &parallelApplier{workers: workers, bufs: make([][]byte, workers), errs: make([]error, workers)}
	if workers <= 1 {
		return p
	}
	p.parked = make([]atomic.Bool, workers)
	p.wake = make([]chan struct{}, workers)
	for w := 1; w < workers; w++ {
		p.wake[w] = make(chan struct{}, 1)
		go p.worker(w)
	}
	return p
}

// worker runs published jobs until close.
func (p *parallelApplier) worker(w int) {
	var seen uint64
	for {
		next := p.awaitJob(w, seen)
		if p.quit.Load() {
			return
		}
		seen = next
		p.do(p.job, w)
		p.pending.Add(-1)
	}
}

// awaitJob returns once seq moves past seen (or the applier closes).
func (p *parallelApplier) awaitJob(w int, seen uint64) uint64 {
	for {
		deadline := time.Now().Add(spinFor)
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

// run runs job on every worker, the calling goroutine being worker 0.
func (p *parallelApplier) run(job jobKind) {
	p.job = job
	p.pending.Store(int32(p.workers - 1))
	p.seq.Add(1)
	for w := 1; w < p.workers; w++ {
		if p.parked[w].Load() {
			select {
			case p.wake[w] <- struct{}{}:
			default: // a token is already waiting
			}
		}
	}
	p.do(job, 0)
	for i := 0; p.pending.Load() != 0; i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	p.e, p.ds, p.slots = nil, nil, nil
}

func (p *parallelApplier) do(job jobKind, w int) {
	switch job {
	case jobCheckEncode:
		p.checkEncodeChunk(w)
	case jobApply:
		p.applyShard(w)
	}
}

func (p *parallelApplier) checkAndEncode(e *Engine, buf []byte, ds []delta.Delta, slots []page.Slot, first base.LSN, histFrom int) ([]byte, []page.Slot, error) {
	p.e, p.ds, p.slots, p.first, p.histFrom = e, ds, slots, first, histFrom
	p.run(jobCheckEncode)
	for _, err := range p.errs {
		if err != nil {
			return buf, nil, err // the first failing chunk holds the lowest bad index
		}
	}
	for _, b := range p.bufs {
		buf = append(buf, b...)
	}
	return buf, slots, nil
}

// checkEncodeChunk validates and encodes worker w's contiguous chunk.
func (p *parallelApplier) checkEncodeChunk(w int) {
	e, ds, n := p.e, p.ds, len(p.ds)
	lo, hi := w*n/p.workers, (w+1)*n/p.workers
	b := p.bufs[w][:0]
	p.errs[w] = nil
	for i := lo; i < hi; i++ {
		sl, err := e.checkDelta(&ds[i], 0)
		if err != nil {
			p.errs[w] = fmt.Errorf("batch delta %d: %w", i, err)
			break
		}
		p.slots[i] = sl
		b = record.AppendDelta(b, &ds[i])
		if i >= p.histFrom {
			// Contiguous chunks: each ring entry has one writer.
			e.histDelta(p.first+base.LSN(i), &ds[i], false)
		}
	}
	p.bufs[w] = b
}

func (p *parallelApplier) apply(e *Engine, ds []delta.Delta, slots []page.Slot, first base.LSN, now int64) {
	p.e, p.ds, p.slots, p.first, p.now = e, ds, slots, first, now
	p.run(jobApply)
}

// applyShard applies the deltas of worker w's page shard, in batch order.
func (p *parallelApplier) applyShard(w int) {
	e, ds, workers := p.e, p.ds, p.workers
	for i := range ds {
		sl := p.slots[i]
		if int(sl>>shardShift)%workers != w {
			continue
		}
		d := &ds[i]
		delta.Apply(d, e.store.Bytes(sl))
		lsn := p.first + base.LSN(i)
		ep := e.store.Epoch(sl) + 1
		e.store.SetEpoch(sl, ep)
		e.store.SetLastLSN(sl, lsn)
		d.LSN, d.Epoch, d.Time = lsn, ep, p.now
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
