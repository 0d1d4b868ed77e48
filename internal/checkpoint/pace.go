package checkpoint

import "time"

// pacer holds a writer to a rate: a token bucket as deep as one buffer.
// Each write may go once the bytes before it have had their time at the
// rate; a writer that fell behind (encoding was slow, or it was not
// scheduled) gets at most one buffer of credit, so it never catches up in
// a burst at the device's full speed, which is what the pacing avoids.
type pacer struct {
	rate  float64 // bytes per second
	depth time.Duration
	next  time.Time // when the next write may start
	now   func() time.Time
	sleep func(time.Duration)
	slept time.Duration // in all
}

// wait is called after n bytes were written; it sleeps while the writer
// is ahead of its rate.
func (p *pacer) wait(n int) {
	if p == nil {
		return
	}
	now := p.now()
	if floor := now.Add(-p.depth); p.next.Before(floor) {
		p.next = floor // credit for at most one buffer
	}
	p.next = p.next.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	if d := p.next.Sub(now); d > 0 {
		p.sleep(d)
		p.slept += d
	}
}

// Paced returns how long the writer has slept to hold its rate (SetRate).
func (w *Writer) Paced() time.Duration {
	if w.pace == nil {
		return 0
	}
	return w.pace.slept
}

// SetRate limits the writer to about bytesPerSec bytes a second (0 or
// negative: no limit) by sleeping after a write that is ahead of it. On a
// disk shared with the log every log sync flushes whatever the
// checkpoint has written since the one before, so a checkpoint at the
// device's full speed slows every commit that waits for a sync
// (docs/benchmarks.md); paced, it takes longer and the syncs stay near
// the device's own latency.
func (w *Writer) SetRate(bytesPerSec int64) {
	w.pace = newPacer(bytesPerSec, time.Now, time.Sleep)
}

func newPacer(bytesPerSec int64, now func() time.Time, sleep func(time.Duration)) *pacer {
	if bytesPerSec <= 0 {
		return nil
	}
	p := &pacer{rate: float64(bytesPerSec), now: now, sleep: sleep}
	p.depth = time.Duration(float64(bufferSize) / p.rate * float64(time.Second))
	return p
}
