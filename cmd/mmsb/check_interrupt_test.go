package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// interruptAfter is a context that is cancelled (Done closed, Err
// context.Canceled) at the moment its Err is consulted for the (n+1)th
// time: a SIGINT that lands at a chosen point of a command's work, without
// depending on timing.
type interruptAfter struct {
	context.Context
	n     int64
	calls atomic.Int64
	once  sync.Once
	done  chan struct{}
}

func newInterruptAfter(n int64) *interruptAfter {
	return &interruptAfter{Context: context.Background(), n: n, done: make(chan struct{})}
}

func (c *interruptAfter) Done() <-chan struct{} { return c.done }

func (c *interruptAfter) Err() error {
	if c.calls.Add(1) > c.n {
		c.once.Do(func() { close(c.done) })
	}
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// TestCheckInterruptIsNotAProblem: a check interrupted at any point of its
// work (here: after each number of looks at its context) ends with exit
// status 1 and an error saying it was interrupted, and never reports the
// cancellation as a problem of the directory: a healthy directory must
// not be listed as damaged because someone pressed Ctrl-C.
func TestCheckInterruptIsNotAProblem(t *testing.T) {
	tb := newTestBus(t)
	interrupted := 0
	for n := int64(0); n < 60; n++ {
		for _, jsonOut := range []bool{false, true} {
			name := fmt.Sprintf("after %d looks, json %v", n, jsonOut)
			args := []string{"check", tb.dir}
			if jsonOut {
				args = []string{"check", "--json", tb.dir}
			}
			ctx := newInterruptAfter(n)
			var out, errb bytes.Buffer
			code := run(ctx, args, &out, &errb)
			if ctx.calls.Load() <= n {
				// The check never looked that often: it ran to the end.
				if code != exitOK {
					t.Fatalf("%s: uninterrupted check of a healthy directory exited %d:\n%s%s", name, code, out.String(), errb.String())
				}
				continue
			}
			interrupted++
			if code != exitFailure || !strings.Contains(errb.String(), "interrupted") {
				t.Errorf("%s: exit status %d, stderr %q; want %d and an error saying the check was interrupted", name, code, errb.String(), exitFailure)
			}
			if strings.Contains(out.String(), "PROBLEM") || strings.Contains(out.String(), "canceled") || strings.Contains(out.String(), `"ok": false`) {
				t.Errorf("%s: the interruption was reported as a problem of the directory:\n%s", name, out.String())
			}
		}
	}
	if interrupted == 0 {
		t.Fatal("no run was interrupted: the test proves nothing")
	}
}
