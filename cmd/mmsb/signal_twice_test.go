package main

import (
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeClock is a clock the test moves. The watcher reads it once per
// signal it reads, so reads counts the signals read: a test waits for
// them (waitReads) before it moves the clock past a signal's moment.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	n     int
	reads chan int // each reading's number, from 1
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Unix(1e9, 0), reads: make(chan int, 16)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	c.reads <- c.n
	return c.t
}

func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// waitReads waits until the clock has been read n times in all; an exit
// meanwhile fails the test (a signal within the window ended the watch).
func (c *fakeClock) waitReads(t *testing.T, n int, exited <-chan int) {
	t.Helper()
	for {
		select {
		case got := <-c.reads:
			if got >= n {
				return
			}
		case code := <-exited:
			t.Fatalf("exit(%d) called while the watcher read signal %d, all within %v of the first", code, n, duplicateSignalWindow)
		case <-time.After(time.Minute):
			t.Fatalf("the watcher did not read the clock %d times (one per signal read)", n)
		}
	}
}

// exitRecorder stands in for os.Exit.
type exitRecorder struct {
	called chan int
}

func (r *exitRecorder) exit(code int) { r.called <- code }

// TestSignalDeliveredTwiceIsOneRequest: one request to stop can arrive as
// two signals a moment apart (timeout(1) signals its child, then the
// child's process group): that is the first signal, not a user's second
// "now", and must not cut the graceful shutdown short. A second signal
// after duplicateSignalWindow still does. Without the window, `timeout 2
// mmsb serve` exited 1 saying "graceful shutdown cut short" in 2 of 3 runs.
func TestSignalDeliveredTwiceIsOneRequest(t *testing.T) {
	clock := newFakeClock()
	rec := &exitRecorder{called: make(chan int, 1)}
	var stderr syncText
	sigs := make(chan os.Signal, 4)
	ctx, stop := watchSignals(sigs, &stderr, rec.exit, clock.now)
	defer stop()
	sigs <- syscall.SIGTERM
	sigs <- syscall.SIGTERM // the same request, through the process group
	<-ctx.Done()
	clock.waitReads(t, 2, rec.called) // both read at the first one's moment
	clock.add(duplicateSignalWindow / 2)
	sigs <- syscall.SIGTERM // still within the window: passed over
	// Read before the clock moves past the window: until 2026-12-07 the
	// clock moved first, and this SIGTERM was the one that exited below.
	clock.waitReads(t, 3, rec.called)
	clock.add(duplicateSignalWindow)
	sigs <- syscall.SIGINT // a real second request, after the window
	select {
	case code := <-rec.called:
		if code != exitFailure {
			t.Fatalf("exit(%d) after a second signal; want %d", code, exitFailure)
		}
	case <-time.After(time.Minute):
		t.Fatal("no exit after a second signal past the window")
	}
	// Only the SIGINT past the window may exit: the SIGTERMs within it
	// (terminated) are one request.
	if got := stderr.String(); !strings.Contains(got, "second signal (interrupt)") || !strings.Contains(got, "graceful shutdown cut short") || strings.Contains(got, "terminated") {
		t.Fatalf("stderr after the signals: %q; want only the SIGINT past the window to cut the shutdown short", got)
	}
}

// TestSignalAfterWorkEndedNoExit: a second signal read once the command's
// work has returned (stop called: main is about to exit with the
// command's own status) must not turn that exit into 1: a12 saw "graceful
// shutdown cut short" printed after serve had closed its bus. The clock's
// second reading stands for the moment the signal is read, and calls stop
// there, so the order is fixed.
func TestSignalAfterWorkEndedNoExit(t *testing.T) {
	rec := &exitRecorder{called: make(chan int, 1)}
	var stderr syncText
	sigs := make(chan os.Signal, 4)
	var stop func()
	readings := 0
	stopped := make(chan struct{})
	now := func() time.Time {
		readings++
		if readings == 2 {
			stop()
			close(stopped)
			return time.Unix(1e9, 0).Add(time.Hour)
		}
		return time.Unix(1e9, 0)
	}
	var ctx interface{ Done() <-chan struct{} }
	ctx, stop = watchSignals(sigs, &stderr, rec.exit, now)
	sigs <- syscall.SIGTERM
	<-ctx.Done()
	sigs <- syscall.SIGINT
	<-stopped
	// The watcher decides right after the clock's reading: a wrong exit
	// comes at once; none coming within this bound is the pass.
	select {
	case code := <-rec.called:
		t.Fatalf("exit(%d) called for a signal read after the work ended; stderr: %s", code, stderr.String())
	case <-time.After(200 * time.Millisecond):
	}
}
