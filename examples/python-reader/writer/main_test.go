package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestRunRejectsBadFlags guards the writer's flags: -pages below 1 or too
// large and -every not positive are refused with errBadFlag naming the
// flag, before a bus is opened. Before, -pages -1 panicked (makeslice),
// -pages 0 created an empty bus and then failed on an empty batch, and
// -every 0 committed in a busy loop.
func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pages   int
		every   time.Duration
		mention string
	}{
		{"negative pages", -1, time.Millisecond, "-pages"},
		{"zero pages", 0, time.Millisecond, "-pages"},
		{"huge pages", 1 << 30, time.Millisecond, "-pages"},
		{"zero every", 4, 0, "-every"},
		{"negative every", 4, -time.Second, "-every"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- run(context.Background(), io.Discard, t.TempDir(), tc.pages, tc.every) }()
			select {
			case err := <-done:
				if !errors.Is(err, errBadFlag) || !strings.Contains(err.Error(), tc.mention) {
					t.Fatalf("got %v, want errBadFlag mentioning %s", err, tc.mention)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("run kept running: the flag was accepted")
			}
		})
	}
}
