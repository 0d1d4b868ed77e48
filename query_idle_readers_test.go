package mmsb

import (
	"runtime"
	"slices"
	"testing"
	"time"
	"weak"

	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestQueryLogDropsIdleReaders: the reader a log query keeps for the next
// ones is reused by a query within queryReaderIdleTime, which keeps it for
// that long again, and is dropped by the sweep once idle that long: the
// readers kept (up to ~17 MiB) were kept for the life of the process. The
// readers' clock is the test's; the sweep is called as its timer would.
func TestQueryLogDropsIdleReaders(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 1, 64)
	commitT(t, e, w(ids[0], 0, "x"))
	clock := time.Unix(1_000_000, 0)
	queryReaders.Lock()
	queryReaders.now = func() time.Time { return clock }
	kept := queryReaders.idle // other tests' readers, set aside
	queryReaders.idle, queryReaders.since = nil, nil
	queryReaders.Unlock()
	t.Cleanup(func() {
		queryReaders.Lock()
		queryReaders.now = nil
		queryReaders.idle, queryReaders.since = nil, nil
		for _, r := range kept {
			queryReaders.idle = append(queryReaders.idle, r)
			queryReaders.since = append(queryReaders.since, time.Now())
		}
		queryReaders.armed = false // armed on the test's clock
		armQueryReaderSweep(time.Now())
		queryReaders.Unlock()
	})
	set := func(d time.Duration) {
		queryReaders.Lock()
		clock = time.Unix(1_000_000, 0).Add(d)
		queryReaders.Unlock()
	}
	idle := func() []*tlog.Reader {
		queryReaders.Lock()
		defer queryReaders.Unlock()
		if !queryReaders.armed && len(queryReaders.idle) > 0 {
			t.Errorf("%d readers idle and no sweep armed", len(queryReaders.idle))
		}
		return slices.Clone(queryReaders.idle)
	}
	query := func() {
		t.Helper()
		if err := e.QueryLog(ctx, LogQuery{Page: ids[0]}, func(*LoggedOp) bool { return true }); err != nil {
			t.Fatal(err)
		}
	}

	query() // at 0
	first := idle()
	if len(first) != 1 {
		t.Fatalf("after one query %d readers are kept, want 1", len(first))
	}
	r := first[0]
	set(queryReaderIdleTime - time.Second)
	sweepQueryReaders()
	if got := idle(); !slices.Equal(got, first) {
		t.Fatalf("idle for %v (under %v): readers %p kept, want %p", queryReaderIdleTime-time.Second, queryReaderIdleTime, got, first)
	}
	query() // reuses r, idle again from here
	if got := idle(); !slices.Equal(got, first) {
		t.Fatalf("a query within %v kept readers %p, want the same reader %p reused", queryReaderIdleTime, got, r)
	}
	set(queryReaderIdleTime + time.Second)
	sweepQueryReaders()
	if got := idle(); !slices.Equal(got, first) {
		t.Fatalf("%v after its first use but 2s after its last, readers %p kept, want %p", queryReaderIdleTime+time.Second, got, r)
	}
	set(2*queryReaderIdleTime - time.Second)
	sweepQueryReaders()
	if got := idle(); len(got) != 0 {
		t.Fatalf("idle for %v: %d readers kept (%p), want none: an idle reader is kept for ever", queryReaderIdleTime, len(got), got)
	}
	query() // a new reader, kept again
	if got := idle(); len(got) != 1 || got[0] == r {
		t.Fatalf("a query after the sweep kept readers %p, want one new reader", got)
	}
}

// TestQueryLogIdleReaderFreed: once the sweep's timer drops the reader a
// query kept, nothing holds it: a weak pointer to it is cleared by a
// garbage collection, so that a process that never queries again does
// release its buffers. The readers' clock is the test's, set past the
// idle time; the timer is armed again to run at once, as it would then.
func TestQueryLogIdleReaderFreed(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 1, 64)
	commitT(t, e, w(ids[0], 0, "x"))
	clock := time.Unix(1_000_000, 0)
	queryReaders.Lock()
	queryReaders.now = func() time.Time { return clock }
	kept := queryReaders.idle // other tests' readers, set aside
	queryReaders.idle, queryReaders.since = nil, nil
	queryReaders.Unlock()
	t.Cleanup(func() {
		queryReaders.Lock()
		queryReaders.now = nil
		queryReaders.idle, queryReaders.since = nil, nil
		for _, r := range kept {
			queryReaders.idle = append(queryReaders.idle, r)
			queryReaders.since = append(queryReaders.since, time.Now())
		}
		queryReaders.armed = false // armed on the test's clock
		armQueryReaderSweep(time.Now())
		queryReaders.Unlock()
	})
	if err := e.QueryLog(ctx, LogQuery{Page: ids[0]}, func(*LoggedOp) bool { return true }); err != nil {
		t.Fatal(err)
	}
	queryReaders.Lock()
	if len(queryReaders.idle) != 1 {
		queryReaders.Unlock()
		t.Fatalf("after one query %d readers are kept, want 1", len(queryReaders.idle))
	}
	wr := weak.Make(queryReaders.idle[0])
	queryReaders.Unlock()
	runtime.GC()
	if wr.Value() == nil {
		t.Fatal("the reader kept was collected while idle in the pool: the check below proves nothing")
	}
	queryReaders.Lock()
	clock = clock.Add(queryReaderIdleTime)
	queryReaders.armed = false
	armQueryReaderSweep(clock) // due now: the timer runs the sweep at once
	queryReaders.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if wr.Value() == nil {
			break
		}
		if time.Now().After(deadline) {
			queryReaders.Lock()
			n := len(queryReaders.idle)
			queryReaders.Unlock()
			t.Fatalf("idle for %v, the reader is still held 10 s after its sweep was due (%d readers in the pool)", queryReaderIdleTime, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
