//go:build replication

package replicate

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestLeaderKilled: the leader (a child process) is SIGKILLed mid-load. A
// follower takes the lease; every commit the child saw acknowledged in
// replicated mode is in the new leader's state and in the other
// follower's, whose state hash equals the new leader's. It logs the
// failover time, from the kill to the new leader's first commit.
func TestLeaderKilled(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 3)
	cfg := testConfig(3)
	child := startReplChild(t, "^TestReplicaChild$", c.URL(), t.TempDir())
	if _, err := child.expect("LEADER", 60*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	b := startNode(t, c, NodeConfig{Config: cfg, ID: "b"})
	d := startNode(t, c, NodeConfig{Config: cfg, ID: "d"})
	var top mmsb.LSN
	acks := 0
	seen := func(l string) {
		if lsn, ok := ackedLast(l); ok {
			acks++
			top = max(top, lsn)
		}
	}
	for acks < 200 {
		if _, err := child.expect("ACK", 30*time.Second, seen); err != nil {
			t.Fatal(err)
		}
	}
	killed := time.Now()
	if err := child.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.drain(seen)
	leader, bus := waitLeader(t, b, d)
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, []byte("new leader"))}); err != nil {
		t.Fatal(err)
	}
	t.Logf("failover: %v from SIGKILL to the new leader's first commit (lease TTL %v); %d commits acknowledged by the old leader, last LSN %d",
		time.Since(killed), cfg.LeaseTTL, acks, top)
	if bus.LastLSN() <= top {
		t.Fatalf("new leader at LSN %d after its commit; the old leader acknowledged up to LSN %d", bus.LastLSN(), top)
	}
	other := b
	if leader == b {
		other = d
	}
	fb := waitApplied(t, other, bus.LastLSN())
	if stateHash(t, fb) != stateHash(t, bus) {
		t.Fatal("the follower's state differs from the new leader's")
	}
}

// TestLeaderPaused: the leader (a child process) is SIGSTOPped past its
// lease TTL; another node takes the lease and commits; the old leader,
// resumed with SIGCONT, has its commits refused (lease expired or fenced by
// the stream), steps down and follows; the stream never holds a record of
// the old term after one of the new term.
func TestLeaderPaused(t *testing.T) { testLeaderPaused(t, false) }

// TestLeaderPausedFenced is TestLeaderPaused with a leader that does not
// look at its lease once it leads (as one paused right after its last
// lease check): on SIGCONT its publishes reach the stream, which refuses
// them (wrong last sequence), and its commits fail with ErrFenced.
func TestLeaderPausedFenced(t *testing.T) { testLeaderPaused(t, true) }

func testLeaderPaused(t *testing.T, noLease bool) {
	ctx := context.Background()
	c := startTestCluster(t, 3)
	cfg := testConfig(3)
	var env []string
	if noLease {
		env = append(env, envReplNoLease+"=1")
	}
	child := startReplChild(t, "^TestReplicaChild$", c.URL(), t.TempDir(), env...)
	if _, err := child.expect("LEADER", 60*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	b := startNode(t, c, NodeConfig{Config: cfg, ID: "b"})
	for i := 0; i < 100; i++ {
		if _, err := child.expect("ACK", 30*time.Second, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A child that exits on its own (a leader fenced or stepped down may
	// end) is not a failure of the test: what matters is that none of its
	// writes is accepted after the new leader's, which the stream's terms
	// show below. A child that crashed (a panic) is.
	paused, err := child.signal(syscall.SIGSTOP)
	if err != nil {
		t.Fatal(err)
	}
	_, bus := waitLeader(t, b)
	if _, err := load(ctx, bus, []mmsb.PageID{1, 2, 3}, 1, 5, 10); err != nil {
		t.Fatal(err)
	}
	resumed := false
	if paused {
		if resumed, err = child.signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	if resumed {
		checkResumedLeader(t, child, noLease)
	} else {
		t.Logf("the old leader exited on its own before it was resumed (paused: %v, exit: %v); output:\n%s", paused, child.waitErr, child.tail())
	}
	if _, err := load(ctx, bus, []mmsb.PageID{1, 2, 3}, 1, 5, 10); err != nil {
		t.Fatalf("the new leader after the old one resumed: %v", err)
	}
	res := testResources(t, c, cfg)
	terms := streamTerms(t, res)
	for i := 1; i < len(terms); i++ {
		if terms[i] < terms[i-1] {
			t.Fatalf("stream holds term %d after term %d", terms[i], terms[i-1])
		}
	}
	if errors.Is(bus.Err(), mmsb.ErrFailed) {
		t.Fatalf("new leader failed: %v", bus.Err())
	}
}

// checkResumedLeader checks what the resumed old leader reports: its
// commits fail (the lease expired, or the stream's fence, which a leader
// ignoring its lease must meet) and it steps down. Its output may end
// instead, after the failure, when it exits on its own; a crash fails the
// test.
func checkResumedLeader(t *testing.T, child *replChild, noLease bool) {
	t.Helper()
	line, err := child.expect("FAIL", 30*time.Second, nil)
	if err != nil {
		if cerr := child.ended(); cerr != nil {
			t.Fatalf("%v\n(%v)", err, cerr)
		}
		t.Logf("the resumed old leader exited before it reported a failure (exit: %v)", child.waitErr)
		return
	}
	if !strings.Contains(line, mmsb.ErrReplication.Error()) && !strings.Contains(line, mmsb.ErrFailed.Error()) && !strings.Contains(line, mmsb.ErrClosed.Error()) {
		t.Fatalf("the resumed leader's commit failed with %q, want a replication failure", line)
	}
	t.Logf("resumed old leader: %s", line)
	if noLease && !strings.Contains(line, ErrFenced.Error()) {
		t.Fatalf("the resumed leader's commit failed with %q, want the stream's fence (%v)", line, ErrFenced)
	}
	if _, err := child.expect("ROLE follower", 30*time.Second, nil); err != nil {
		if cerr := child.ended(); cerr != nil {
			t.Fatalf("%v\n(%v)", err, cerr)
		}
		t.Logf("the resumed old leader exited after its failure (exit: %v)", child.waitErr)
	}
}

// ended reports nil when the child's output ended because it exited on
// its own, not by a crash; otherwise an error (still running, or crashed).
func (c *replChild) ended() error {
	select {
	case <-c.exited:
		return c.crashed()
	default:
		return errors.New("the child is still running")
	}
}

// drain reads the lines left after the child stopped.
func (c *replChild) drain(seen func(string)) {
	for l := range c.lines {
		c.note(l)
		seen(l)
	}
}

// ackedLast parses "ACK <first> <last>" lines.
func ackedLast(line string) (mmsb.LSN, bool) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ACK" {
		return 0, false
	}
	n, err := strconv.ParseUint(f[2], 10, 64)
	return mmsb.LSN(n), err == nil
}
