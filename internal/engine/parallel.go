package engine

import (
	"sync"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/delta"
	"github.com/mmsb-go/mmsb/internal/page"
)

// parallelMin is the batch size from which a batch is applied by several
// workers; below it the hand-off costs more than it saves.
const parallelMin = 256

// parallelApplier applies a validated batch with several goroutines. Deltas
// are sharded by slot (so by page): worker w applies the deltas whose slot
// % workers == w, in batch order, so per-page order is batch order and the
// result equals serial application for any worker count.
type parallelApplier struct {
	workers int
	start   []chan applyJob
	wg      sync.WaitGroup
}

type applyJob struct {
	e     *Engine
	ds    []delta.Delta
	slots []page.Slot
	first base.LSN
	now   int64
}

func newParallelApplier(workers int) *parallelApplier {
	p := &parallelApplier{workers: workers}
	if workers <= 1 {
		return p
	}
	p.start = make([]chan applyJob, workers-1)
	for w := 1; w < workers; w++ {
		ch := make(chan applyJob)
		p.start[w-1] = ch
		go func(w int) {
			for job := range ch {
				job.run(w, workers)
				p.wg.Done()
			}
		}(w)
	}
	return p
}

func (p *parallelApplier) apply(e *Engine, ds []delta.Delta, slots []page.Slot, first base.LSN, now int64) {
	job := applyJob{e: e, ds: ds, slots: slots, first: first, now: now}
	p.wg.Add(len(p.start))
	for _, ch := range p.start {
		ch <- job
	}
	job.run(0, p.workers)
	p.wg.Wait()
}

func (j applyJob) run(w, n int) {
	e := j.e
	for i := range j.ds {
		sl := j.slots[i]
		if int(sl)%n != w {
			continue
		}
		d := &j.ds[i]
		delta.Apply(d, e.store.Bytes(sl))
		lsn := j.first + base.LSN(i)
		ep := e.store.Epoch(sl) + 1
		e.store.SetEpoch(sl, ep)
		prev := e.store.LastLSN(sl)
		e.store.SetLastLSN(sl, lsn)
		d.LSN, d.Epoch, d.Time = lsn, ep, j.now
		if e.hist != nil && i >= len(j.ds)-len(e.hist) { // older entries would be overwritten anyway
			lo, hi := deltaBounds(d)
			e.hist[uint64(lsn)%uint64(len(e.hist))] = HistEntry{LSN: lsn, Page: d.Page, PrevLSN: prev, Lo: lo, Hi: hi, Time: j.now}
		}
	}
}

func (p *parallelApplier) close() {
	for _, ch := range p.start {
		close(ch)
	}
	p.start = nil
}
