package replicate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestFollowerRetryPausesFixedAtMaking: a follower's retry pauses are
// the package's retryFirst and retryMax when it was made
// (newFollower), as disconnectedLimit is. Run read the package
// variables after every spell, so runFollower's cleanup, which restores
// them without waiting for Run to return, raced with a Run still
// stopping (go test -race); here a change after the making is what Run
// must not see (it logged "retrying in 1m0s").
func TestFollowerRetryPausesFixedAtMaking(t *testing.T) {
	c, res, leader, _ := catchUpStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, applied, logs, done := runFollower(t, ctx, res, &Metrics{}) // retryFirst 100 ms
	// After the making (runFollower's cleanup restores it); the first
	// spell applies records, so the pause after it is retryFirst.
	retryFirst = time.Minute
	waitRunApplied(t, applied, done, leader.LastLSN())

	c.Stop(0)
	c.cfgs[0].StoreDir = t.TempDir() // the restarted server has no stream
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	select {
	case line := <-logs:
		if !strings.Contains(line, "retrying in 100ms") {
			t.Fatalf("log line %q: want the pause the follower was made with, 100ms", line)
		}
	case err := <-done:
		t.Fatalf("Run ended while the stream was gone: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no failed spell logged in 60 s after the stream went away")
	}
	cancel()
	testutil.Recv(t, done, "the follower's Run did not return after its context ended")
}
