package mmsb

import (
	"context"

	"github.com/mmsb-go/mmsb/internal/ctxarg"
)

// checkCtx refuses a nil ctx with ErrInvalidOption naming fn ("Bus.Commit"):
// every exported function of the package that takes a context calls it
// first (TestNilContextRefused finds them by reflection).
func checkCtx(ctx context.Context, fn string) error {
	return ctxarg.Check(ctx, fn, ErrInvalidOption)
}

// WaitLSN blocks until an operation after LSN after is committed and
// durable per the sync mode (what WaitDurable waits for), and returns the
// last such LSN: every operation up to it has been applied, is visible to
// reads and survives a crash the sync mode covers. It returns at once when
// that is already so. It fails with ctx's error, ErrClosed once the bus
// closes, or the sticky failure.
//
// It is the notification primitive for followers of the log (the server's
// watch hub): wait, then read the new operations with QueryLog. It costs a
// committer one atomic load while nobody waits: waiters share one channel,
// created by the first of them and closed by the next logged operation.
func (e *Bus) WaitLSN(ctx context.Context, after LSN) (LSN, error) {
	if err := checkCtx(ctx, "Bus.WaitLSN"); err != nil {
		return 0, err
	}
	for {
		e.rlockSettled()
		if err := e.usable(); err != nil {
			// A failed bus logs nothing more: waiting for a later LSN
			// would last until ctx ends, so report the failure instead.
			e.mu.RUnlock()
			return 0, err
		}
		last := e.lastLSN
		var wake chan struct{}
		if last <= after {
			// Registered under the read lock: no operation can be logged
			// between reading lastLSN and publishing the channel, so no
			// wake-up is lost.
			wake = e.lsnWakeChan()
		}
		e.mu.RUnlock()
		if wake == nil {
			if err := e.WaitDurable(ctx, last); err != nil {
				return 0, err
			}
			return last, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-wake:
		}
	}
}

// lsnWakeChan returns the channel the next logged operation closes,
// creating it if no waiter has yet. Callers hold e.mu (read or write).
func (e *Bus) lsnWakeChan() chan struct{} {
	for {
		if p := e.lsnWake.Load(); p != nil {
			return *p
		}
		ch := make(chan struct{})
		if e.lsnWake.CompareAndSwap(nil, &ch) {
			return ch
		}
	}
}

// wakeLSNWaiters releases every WaitLSN caller. Callers hold e.mu for
// writing, so no waiter registers concurrently.
func (e *Bus) wakeLSNWaiters() {
	if p := e.lsnWake.Load(); p != nil {
		e.lsnWake.Store(nil)
		close(*p)
	}
}
