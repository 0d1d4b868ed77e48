package engine

import (
	"fmt"
	"sync"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/delta"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
)

// parallelMin is the batch size from which a batch is validated, encoded
// and applied by several workers; below it the hand-off costs more than it
// saves.
const parallelMin = 256

// parallelApplier runs the two parallel phases of a large commit with a
// fixed set of goroutines:
//
//   - check+encode: the batch is cut into contiguous chunks, one per worker;
//     each validates its deltas and encodes them into its own buffer; the
//     buffers are concatenated in chunk order, so the log holds the batch in
//     submission order whatever the worker count.
//   - apply: deltas are sharded by slot (so by page): worker w applies the
//     deltas whose slot % workers == w, in batch order. Per-page order is
//     batch order, and the result equals serial application for any worker
//     count.
type parallelApplier struct {
	workers int
	start   []chan func(w int)
	wg      sync.WaitGroup
	bufs    [][]byte
	errs    []error
}

func newParallelApplier(workers int) *parallelApplier {
	p := &parallelApplier{workers: workers, bufs: make([][]byte, workers), errs: make([]error, workers)}
	if workers <= 1 {
		return p
	}
	p.start = make([]chan func(int), workers-1)
	for w := 1; w < workers; w++ {
		ch := make(chan func(int))
		p.start[w-1] = ch
		go func(w int) {
			for job := range ch {
				job(w)
				p.wg.Done()
			}
		}(w)
	}
	return p
}

// run calls job(w) for every worker w, the calling goroutine being worker 0.
func (p *parallelApplier) run(job func(w int)) {
	p.wg.Add(len(p.start))
	for _, ch := range p.start {
		ch <- job
	}
	job(0)
	p.wg.Wait()
}

func (p *parallelApplier) checkAndEncode(e *Engine, buf []byte, ds []delta.Delta, slots []page.Slot) ([]byte, []page.Slot, error) {
	n := len(ds)
	p.run(func(w int) {
		lo, hi := w*n/p.workers, (w+1)*n/p.workers
		b := p.bufs[w][:0]
		p.errs[w] = nil
		for i := lo; i < hi; i++ {
			sl, err := e.checkDelta(&ds[i], 0)
			if err != nil {
				p.errs[w] = fmt.Errorf("batch delta %d: %w", i, err)
				break
			}
			slots[i] = sl
			b = record.AppendDelta(b, &ds[i])
		}
		p.bufs[w] = b
	})
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

func (p *parallelApplier) apply(e *Engine, ds []delta.Delta, slots []page.Slot, first base.LSN, now int64) {
	workers := p.workers
	p.run(func(w int) {
		for i := range ds {
			sl := slots[i]
			if int(sl)%workers != w {
				continue
			}
			d := &ds[i]
			delta.Apply(d, e.store.Bytes(sl))
			lsn := first + base.LSN(i)
			ep := e.store.Epoch(sl) + 1
			e.store.SetEpoch(sl, ep)
			prev := e.store.LastLSN(sl)
			e.store.SetLastLSN(sl, lsn)
			d.LSN, d.Epoch, d.Time = lsn, ep, now
			// Entries older than the ring's size would be overwritten
			// within this batch anyway; skipping them keeps each ring slot
			// written by exactly one worker.
			if e.hist != nil && i >= len(ds)-len(e.hist) {
				lo, hi := deltaBounds(d)
				e.hist[uint64(lsn)&e.histMask] = HistEntry{LSN: lsn, Page: d.Page, PrevLSN: prev, Lo: lo, hi: hi}
			}
		}
	})
}

func (p *parallelApplier) close() {
	for _, ch := range p.start {
		close(ch)
	}
	p.start = nil
}
