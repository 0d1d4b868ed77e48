package mmsb

import (
	"context"
	"errors"
	"testing"
)

// TestPropagateWaitEndsWithCtxAndClose: a Propagate behind a wave whose
// function is stopped waits only until its own ctx ends (ctx.Err(), r
// empty) or the bus closes (ErrClosed); ScheduleResync waits until Close.
// The running wave is not disturbed, and waves go on once it ends. Until
// 2026-12-07 waveMu was a sync.Mutex: the second Propagate waited for the
// function whatever its ctx, and after Close.
func TestPropagateWaitEndsWithCtxAndClose(t *testing.T) {
	// wait runs f in a goroutine and fails the test if it does not return
	// while the running wave's function is stopped.
	wait := func(t *testing.T, what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { defer close(done); f() }()
		waitDone(t, what, done)
	}
	t.Run("ctx", func(t *testing.T) {
		e, g, a, d, _ := gateFixture(t)
		res := startWave(t, e, g)
		for i := range 3 {
			wctx, cancel := context.WithCancel(ctx)
			if i > 0 {
				cancel() // done before the call: the same answer
			}
			r := PropagateResult{Recomputed: 5, Writes: make([]PageWrite, 2)}
			var err error
			done := make(chan struct{})
			go func() { defer close(done); err = e.PropagateInto(wctx, &r) }()
			cancel()
			waitDone(t, "a second Propagate whose ctx ended", done)
			if !errors.Is(err, context.Canceled) || r.Recomputed != 0 || len(r.Writes) != 0 {
				t.Fatalf("second Propagate %d = %v, %+v; want context.Canceled and an empty result", i, err, r)
			}
		}
		g.free()
		if err := <-res; err != nil {
			t.Fatalf("the running wave returned %v", err)
		}
		if got := readPage(t, e, d)[0]; got != 8 {
			t.Fatalf("d = %d after the wave, want 8", got)
		}
		// The abandoned waits kept nothing: the next wave runs.
		if _, err := e.Commit(ctx, []Delta{Write(a, 0, []byte{9})}); err != nil {
			t.Fatal(err)
		}
		wait(t, "a Propagate after the wave", func() {
			if _, err := e.Propagate(ctx); err != nil {
				t.Errorf("Propagate after the wave: %v", err)
			}
		})
		if got, n := readPage(t, e, d)[0], e.Pending(); got != 10 || n != 0 {
			t.Fatalf("d = %d, Pending %d after the next wave; want 10, 0", got, n)
		}
	})
	t.Run("close", func(t *testing.T) {
		e, g, _, _, _ := gateFixture(t)
		last := e.LastLSN()
		res := startWave(t, e, g)
		errs := make(chan error, 1)
		go func() { _, err := e.Propagate(ctx); errs <- err }()
		resync := make(chan struct{})
		go func() { defer close(resync); e.ScheduleResync() }()
		duringWave(t, "Close", e.Close)
		wait(t, "a Propagate waiting for the wave when the bus closed", func() {
			if err := <-errs; !errors.Is(err, ErrClosed) {
				t.Errorf("the waiting Propagate returned %v, want ErrClosed", err)
			}
		})
		waitDone(t, "a ScheduleResync waiting for the wave when the bus closed", resync)
		wait(t, "a Propagate after Close", func() {
			if _, err := e.Propagate(ctx); !errors.Is(err, ErrClosed) {
				t.Errorf("Propagate after Close returned %v, want ErrClosed", err)
			}
		})
		g.free()
		if err := <-res; !errors.Is(err, ErrClosed) {
			t.Fatalf("the running wave returned %v, want ErrClosed", err)
		}
		if got := e.LastLSN(); got != last {
			t.Fatalf("LastLSN after Close = %d, want %d", got, last)
		}
	})
}
