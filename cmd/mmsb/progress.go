package main

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress draws a progress bar on stderr when it is a terminal and does
// nothing otherwise. Work loops only bump an atomic counter; a separate
// goroutine redraws from it a few times a second, so that the hot path
// never takes the bar's lock or allocates.
type progress struct {
	done    atomic.Int64
	bar     *progressbar.ProgressBar
	stop    chan struct{}
	stopped sync.WaitGroup
	once    sync.Once
}

// progressTick is how often the bar is redrawn.
const progressTick = 100 * time.Millisecond

// progress starts a bar for total units named unit (a negative total draws
// a spinner).
// The returned value is never nil; call finish when the work ends.
func (a *app) progress(total int64, desc, unit string) *progress {
	p := &progress{}
	if !a.terminal || a.noProgress {
		return p
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
	p.stop = make(chan struct{})
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		t := time.NewTicker(progressTick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = p.bar.Set64(p.done.Load())
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

// add records n more units done. Safe for concurrent use; allocation-free.
func (p *progress) add(n int64) { p.done.Add(n) }

// finish stops redrawing and clears the bar.
func (p *progress) finish() {
	p.once.Do(func() {
		if p.bar == nil {
			return
		}
		close(p.stop)
		p.stopped.Wait()
		_ = p.bar.Set64(p.done.Load())
		_ = p.bar.Finish()
	})
}
