package replicate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// runFollower starts Follower.Run on a new follower bus of res's stream,
// with short retry pauses, and returns it with the channels of its
// applied LSNs, its log lines and its result.
func runFollower(t *testing.T, ctx context.Context, res *resources, m *Metrics) (*mmsb.Bus, <-chan mmsb.LSN, <-chan string, <-chan error) {
	t.Helper()
	first, most := retryFirst, retryMax
	retryFirst, retryMax = 100*time.Millisecond, 500*time.Millisecond
	t.Cleanup(func() { retryFirst, retryMax = first, most })
	fb, err := mmsb.Open(t.TempDir(), &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fb.Close() })
	applied := make(chan mmsb.LSN, 1024)
	logs := make(chan string, 1024)
	f := newFollower(fb, res, m)
	f.onApplied = func(lsn mmsb.LSN) { applied <- lsn }
	f.logf = func(format string, args ...any) {
		select {
		case logs <- fmt.Sprintf(format, args...):
		default:
		}
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	return fb, applied, logs, done
}

// waitRunApplied waits until the follower has applied lsn.
func waitRunApplied(t *testing.T, applied <-chan mmsb.LSN, done <-chan error, lsn mmsb.LSN) {
	t.Helper()
	for got := mmsb.LSN(0); got < lsn; {
		select {
		case got = <-applied:
		case err := <-done:
			t.Fatalf("Run ended at LSN %d of %d: %v", got, lsn, err)
		case <-time.After(60 * time.Second):
			t.Fatalf("follower at LSN %d of %d after 60 s", got, lsn)
		}
	}
}

// TestFollowerRunRetriesWhenStreamIsGone: a following whose server comes
// back without the stream keeps retrying, logs each failed spell naming
// ErrStreamUnavailable and counts it in StreamRetries, and returns as soon
// as its context ends. Before, the client library re-created the consumer
// for ever without a word, and Run ended up to 20 s after its context.
// Negative control (by hand): the library's endless re-creation
// (MaxResetAttempts 0) fails it, with no log line within 60 s.
func TestFollowerRunRetriesWhenStreamIsGone(t *testing.T) {
	c, res, leader, _ := catchUpStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &Metrics{}
	_, applied, logs, done := runFollower(t, ctx, res, m)
	waitRunApplied(t, applied, done, leader.LastLSN())

	c.Stop(0)
	c.cfgs[0].StoreDir = t.TempDir() // the restarted server has no stream
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	for lines := 0; lines < 2; {
		select {
		case line := <-logs:
			if !strings.Contains(line, ErrStreamUnavailable.Error()) {
				t.Fatalf("log line %q does not name %v", line, ErrStreamUnavailable)
			}
			t.Log(line)
			lines++
		case err := <-done:
			t.Fatalf("Run ended while the stream was gone: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatalf("%d log lines in 60 s after the stream went away, want 2 retries logged", lines)
		}
	}
	if n := m.StreamRetries.Load(); n < 2 {
		t.Fatalf("StreamRetries = %d after two logged retries", n)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5 s after its context ended")
	}
}

// TestFollowerRunRidesOutServerRestart: a following whose server stops
// and comes back with its storage goes on without reopening its bus:
// records committed after the restart reach it, and it ends at the
// leader's state. The control for the test above: a retry that starts
// over from the position check loses nothing and applies nothing twice.
func TestFollowerRunRidesOutServerRestart(t *testing.T) {
	c, res, leader, _ := catchUpStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &Metrics{}
	fb, applied, logs, done := runFollower(t, ctx, res, m)
	pages := createPages(t, leader, 2)
	waitRunApplied(t, applied, done, leader.LastLSN())

	c.Stop(0)
	time.Sleep(time.Second) // an outage, not only a restart
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	var err error
	for try := 0; try < 100; try++ { // the leader's connection reconnects first
		if _, err = load(ctx, leader, pages, 1, 3, 4); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("commits after the restart: %v", err)
	}
	waitRunApplied(t, applied, done, leader.LastLSN())
	if got, want := stateHash(t, fb), stateHash(t, leader); got != want {
		t.Fatalf("follower state hash %016x, leader %016x", got, want)
	}
	t.Logf("%d retries", m.StreamRetries.Load())
	for len(logs) > 0 {
		t.Log(<-logs)
	}
	cancel()
	if err := testutil.Recv(t, done, "the follower's Run did not return after its context ended"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
}
