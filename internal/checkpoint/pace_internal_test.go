package checkpoint

import (
	"testing"
	"time"
)

// fakeClock is a clock that moves only when slept on (or told to).
type fakeClock struct {
	t      time.Time
	slept  time.Duration
	sleeps int
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(d time.Duration) {
	c.t = c.t.Add(d)
	c.slept += d
	c.sleeps++
}

// TestPacer: buffers written at once are held to the rate after one
// buffer of credit; a writer that fell far behind gets one buffer of
// credit back, not a burst; no rate, no sleep. Each row's sleep total is
// exact on the fake clock. Controls: a bucket without the credit floor
// (catching up on everything it fell behind) sleeps 0 after the stall and
// fails the second row; one without the first buffer's credit sleeps a
// buffer's time more and fails the first.
func TestPacer(t *testing.T) {
	const rate = 1 << 20 // 1 MiB/s: a 256 KiB buffer is 250 ms
	buf := 250 * time.Millisecond
	for _, tc := range []struct {
		name    string
		rate    int64
		buffers int
		stallAt int           // before this buffer the clock jumps by stall (0: never)
		stall   time.Duration //
		want    time.Duration // total slept
	}{
		{"steady", rate, 8, 0, 0, 7 * buf},                       // the first buffer is credit
		{"after a stall", rate, 8, 4, 10 * time.Second, 6 * buf}, // 3 before, then credit again
		{"no rate", 0, 8, 0, 0, 0},
		{"negative rate", -1, 8, 0, 0, 0},
	} {
		c := &fakeClock{t: time.Unix(1000, 0)}
		p := newPacer(tc.rate, c.now, c.sleep)
		for i := 0; i < tc.buffers; i++ {
			if tc.stallAt > 0 && i == tc.stallAt {
				c.t = c.t.Add(tc.stall)
			}
			p.wait(bufferSize)
		}
		if c.slept != tc.want || (p != nil && p.slept != c.slept) {
			t.Errorf("%s: slept %v in %d sleeps, want %v", tc.name, c.slept, c.sleeps, tc.want)
		}
	}
}
