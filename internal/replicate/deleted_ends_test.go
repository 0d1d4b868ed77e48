package replicate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestFollowerPositionsWithStreamEndsDeleted: a follower applied the
// whole stream but its last record; an operator then deleted the
// stream's last message (nats stream rmm), so the stream's info still
// names that sequence as its last. At its restart the follower's
// position check finds its own record (now the stream's last one) and
// the follower goes on. Before, the check read the deleted last sequence
// exactly, failed with "message not found" at each of its tries, and
// every restart ended there until the leader published again.
func TestFollowerPositionsWithStreamEndsDeleted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	pages := createPages(t, leader, 4)
	if _, err := load(ctx, leader, pages, 1, 10, 1); err != nil {
		t.Fatal(err)
	}
	_, last, _, _ := streamState(t, res)
	dir := t.TempDir()
	fb, err := mmsb.Open(dir, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := newFollower(fb, res, &Metrics{}).CatchUp(ctx, last-1); err != nil {
		t.Fatal(err)
	}
	if err := fb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := res.stream.DeleteMsg(ctx, last); err != nil {
		t.Fatal(err)
	}
	if _, l, _, _ := streamState(t, res); l != last {
		t.Skipf("the stream's info names sequence %d as its last after the delete of %d: not the case under test", l, last)
	}
	fb, err = mmsb.Open(dir, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fb.Close() }()
	seq, err := newFollower(fb, res, &Metrics{}).position(ctx)
	if err != nil || seq != last-1 {
		t.Fatalf("position of a follower at sequence %d, the stream's last message (%d) deleted: sequence %d, %v", last-1, last, seq, err)
	}
}

// TestNodeLeadsWithStreamLastMessageDeleted: the leader stopped, and an
// operator deleted the stream's last message (nats stream rmm: the
// stream's info still names its sequence as the last). A new node
// follows the stream to its last record, leads, and its commit reaches
// the stream. Before, its catch-up before leading waited for the deleted
// sequence, stalled (ErrCatchUpStalled) and gave the lease up, at every
// try, for ever: no node could lead.
func TestNodeLeadsWithStreamLastMessageDeleted(t *testing.T) {
	defer func(d time.Duration) { catchUpStall = d }(catchUpStall)
	catchUpStall = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", CheckpointEvery: -1})
	_, la := waitLeader(t, a)
	pages := createPages(t, la, 2)
	if _, err := load(ctx, la, pages, 1, 5, 1); err != nil {
		t.Fatal(err)
	}
	a.stop()
	res := testResources(t, c, testConfig(1))
	_, last, _, _ := streamState(t, res)
	if err := res.stream.DeleteMsg(ctx, last); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	b := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "b", CheckpointEvery: -1, Logf: logs.logf})
	_, lb := waitLeaderWithin(t, 30*time.Second, b)
	info, err := lb.Commit(ctx, []mmsb.Delta{mmsb.Write(pages[0], 0, []byte{9})})
	if err != nil {
		t.Fatalf("commit of the node leading after the stream's last message was deleted: %v", err)
	}
	if _, l, _, tail := tailState(t, res); l <= last || tail.Last != info.LastLSN {
		t.Fatalf("after the commit at LSN %d the stream's last record is at sequence %d ending at LSN %d, want past %d ending at %d", info.LastLSN, l, tail.Last, last, info.LastLSN)
	}
}

// tailState returns the stream's first sequence and message count (its
// info's), and its last record and that record's sequence.
func tailState(t *testing.T, res *resources) (first, last, msgs uint64, tail recordMeta) {
	t.Helper()
	first, _, msgs, _ = streamState(t, res)
	m, err := res.stream.GetLastMsgForSubject(context.Background(), res.cfg.Subject())
	if err != nil {
		t.Fatal(err)
	}
	if tail, err = parseHeaders(m.Header); err != nil {
		t.Fatal(err)
	}
	return first, m.Sequence, msgs, tail
}

// TestFollowerStopsAtGapInsideStream: a follower applied the stream up to
// a record; an operator then deleted the two messages after it inside
// the stream (nats stream rmm). Its catch-up ends with ErrStreamGap,
// naming the sequences and LSNs deleted and what to do, which stops the
// node (stopsNode); nothing after the gap is applied. Before, the bus's
// refusal ("gap: record starts at LSN …") ended the role, and every
// cycle met the same record again, for ever.
func TestFollowerStopsAtGapInsideStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	pages := createPages(t, leader, 4)
	if _, err := load(ctx, leader, pages, 1, 10, 1); err != nil {
		t.Fatal(err)
	}
	first, last, _, _ := streamState(t, res)
	k := first + 3
	fb, err := mmsb.Open(t.TempDir(), &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fb.Close() }()
	if err := newFollower(fb, res, &Metrics{}).CatchUp(ctx, k); err != nil {
		t.Fatal(err)
	}
	at := fb.LastLSN()
	for seq := k + 1; seq <= k+2; seq++ {
		if err := res.stream.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	err = newFollower(fb, res, &Metrics{}).CatchUp(ctx, last)
	if !errors.Is(err, ErrStreamGap) || !stopsNode(err) {
		t.Fatalf("catch-up across messages %d..%d deleted inside the stream: %v, want ErrStreamGap, which stops the node", k+1, k+2, err)
	}
	if want := fmt.Sprintf("the message(s) at sequence %d..%d holding LSN %d..", k+1, k+2, at+1); !strings.Contains(err.Error(), want) {
		t.Fatalf("the error does not say %q: %v", want, err)
	}
	if fb.LastLSN() != at {
		t.Fatalf("the follower is at LSN %d, want %d (nothing applied after the gap)", fb.LastLSN(), at)
	}
}

// TestFollowerPositionsPastItsDeletedRecord: a follower applied the
// stream up to a record, which an operator then deleted inside the
// stream (nats stream rmm), with the one before it. At its restart its
// position check finds the record after them, which starts right after
// its LSN, and the follower goes on from there, the next record's hash
// checking its state: it applies the rest and reaches the leader's
// state. Before, the check took its LSN for one inside that record
// (ErrDiverged), and the node set its directory aside and rebuilt it.
func TestFollowerPositionsPastItsDeletedRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	pages := createPages(t, leader, 4)
	if _, err := load(ctx, leader, pages, 1, 10, 1); err != nil {
		t.Fatal(err)
	}
	first, last, _, _ := streamState(t, res)
	k := first + 4
	fb, err := mmsb.Open(t.TempDir(), &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fb.Close() }()
	if err := newFollower(fb, res, &Metrics{}).CatchUp(ctx, k); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{k - 1, k} {
		if err := res.stream.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	f := newFollower(fb, res, &Metrics{})
	if seq, err := f.position(ctx); err != nil || seq != k {
		t.Fatalf("position of a follower whose record (sequence %d) was deleted inside the stream: sequence %d, %v; want %d", k, seq, err, k)
	}
	if err := f.CatchUp(ctx, last); err != nil {
		t.Fatal(err)
	}
	want, err := leader.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fb.StateHash(); err != nil || got != want || fb.LastLSN() != leader.LastLSN() {
		t.Fatalf("the follower at LSN %d, state %x (%v); want the leader's LSN %d, state %x", fb.LastLSN(), got, err, leader.LastLSN(), want)
	}
}
