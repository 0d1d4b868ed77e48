package testutil

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// WithinDeadline runs fn and fails the test if it has not returned after
// 20 seconds: a blocked open(2) of a named pipe planted under a file's name
// must fail the test, not hang it. The pipe at path (if it is one) is then
// opened for writing, which releases a reader blocked on it, so the test
// ends.
func WithinDeadline(t testing.TB, what, path string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			_ = f.Close() // only there to release the blocked reader
		}
		<-done
		t.Fatalf("%s blocked for 20 s on %s", what, path)
	}
}
