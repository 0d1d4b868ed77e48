package replicate

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// followerGoroutines returns the stacks of live goroutines running
// Follower code (its apply loop, its lag tracker, its consumer reader).
func followerGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var live []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "internal/replicate.(*Follower)") && !strings.Contains(g, "internal/replicate.consume") {
			continue
		}
		if exitingLagWrapper(g) {
			continue
		}
		live = append(live, g)
	}
	return live
}

// exitingLagWrapper reports whether stack g is the lag tracker's wrapper
// goroutine after trackLag returned: its only frame of this package is
// the wrapper (run.func1), which is closing the channel run waits for or
// about to exit. run returns once that channel is closed, so the
// goroutine may still be listed, runnable, for an instant after it (CI
// saw one, 2026-12-06); it does no more work. A tracker still running
// shows its trackLag frame, and the old consumer reader its consume frame.
func exitingLagWrapper(g string) bool {
	for _, line := range strings.Split(g, "\n") {
		if strings.Contains(line, "internal/replicate.") &&
			!strings.Contains(line, "internal/replicate.(*Follower).run.func1(") &&
			!strings.Contains(line, "created by github.com/mmsb-go/mmsb/internal/replicate.(*Follower).run") {
			return false
		}
	}
	return true
}

// TestFollowerRunLeavesNoGoroutine: once Follower.Run has returned (its
// context ended), no goroutine it started is still running, whether the
// stream is there or its server is gone. Before, the consumer's reader
// ran in a goroutine of its own that Run did not wait for: the client
// library's calls that make and re-make an ordered consumer take no
// context and may block 10 s, so it outlived Run (and Node.Run, and the
// bus's Close) by up to that long, and the lag tracker ended after Run
// too.
func TestFollowerRunLeavesNoGoroutine(t *testing.T) {
	for _, tc := range []struct {
		name       string
		stopServer bool
	}{
		{"stream there", false},
		{"server stopped", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, res, leader, _ := catchUpStream(t)
			// Several followers, one after the other: each must leave
			// nothing running (the old code's leftovers ended soon after
			// Run, and a single look could miss them).
			for round := 0; round < 5; round++ {
				ctx, cancel := context.WithCancel(context.Background())
				_, applied, _, done := runFollower(t, ctx, res, &Metrics{})
				waitRunApplied(t, applied, done, leader.LastLSN())
				if tc.stopServer {
					c.Stop(0)
				}
				cancel()
				if err := testutil.Recv(t, done, "the follower's Run did not return after its context ended"); !errors.Is(err, context.Canceled) {
					t.Fatalf("round %d: Run after cancel: %v, want context.Canceled", round, err)
				}
				if live := followerGoroutines(); len(live) > 0 {
					t.Fatalf("round %d: %d follower goroutines still running after Run returned:\n%s", round, len(live), strings.Join(live, "\n\n"))
				}
				if tc.stopServer {
					if err := c.Restart(0); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
