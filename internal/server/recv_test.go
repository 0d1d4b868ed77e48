package server_test

import (
	"testing"
	"time"
)

// recvBound is how long recv waits: far past anything a test waits for
// on a loaded machine. It measures nothing; it turns a hang into a
// failure that says what was awaited (a hang ends only at go test's
// -timeout, whose dump names goroutines, not the step).
const recvBound = 2 * time.Minute

// recv returns the next value of ch, or fails the test naming what it
// waited for if none comes within recvBound. Only from the test's own
// goroutine (it calls t.Fatalf).
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(recvBound)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("no %s within %v", what, recvBound)
		panic("unreachable")
	}
}
