package testutil

import (
	"sync"
	"testing"
	"time"
)

// HangGuard is how long a test waits for what another goroutine or
// process must deliver before it fails instead: a guard against a hang,
// not a bound. A wait with no guard that a product defect or a race left
// unanswered held a package's tests until go test's -timeout (30 minutes
// in CI, with nothing of the run landing).
const HangGuard = 60 * time.Second

// Recv returns the next value from ch, or fails the test, saying what
// did not happen, when none has come within HangGuard. Call it from the
// test's goroutine (it may call t.Fatalf).
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(HangGuard): // a guard against a hang, not a bound
		t.Fatalf("%s: nothing after %v (a guard against a hang)", what, HangGuard)
		var zero T
		return zero
	}
}

// Wait waits for wg as Recv waits for a value.
func Wait(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	Recv(t, done, what)
}
