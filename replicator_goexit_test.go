package mmsb

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// goexitReplicator ends the calling goroutine with runtime.Goexit (as
// t.FailNow in a test's Replicator does) in the method named by in, and
// is a fakeReplicator otherwise.
type goexitReplicator struct {
	fakeReplicator
	in atomic.Value // string
}

func (g *goexitReplicator) exits(method string) bool {
	s, _ := g.in.Load().(string)
	return s == method
}

func (g *goexitReplicator) MaxRecordBytes() int {
	if g.exits("MaxRecordBytes") {
		runtime.Goexit()
	}
	return g.fakeReplicator.MaxRecordBytes()
}

func (g *goexitReplicator) Replicate(rec *ReplicatedRecord) error {
	if g.exits("Replicate") {
		runtime.Goexit()
	}
	return g.fakeReplicator.Replicate(rec)
}

func (g *goexitReplicator) WaitStored(ctx context.Context, lsn LSN) error {
	if g.exits("WaitStored") {
		runtime.Goexit()
	}
	return g.fakeReplicator.WaitStored(ctx, lsn)
}

// TestReplicatorGoexitFailsTheBus: a Replicator whose Replicate or
// WaitStored ends the goroutine with runtime.Goexit did not hand on or
// store the record, as one that panics did not: the bus fails the same
// way (ErrFailed wrapping ErrReplication, naming the method), and later
// calls and Close answer. Before, the deferred calls released the lock
// and the bus went on as if the record had been replicated: Err was nil
// and the next commit succeeded on a leader whose replica lacked a
// batch. A MaxRecordBytes that exits refuses nothing logged: the lock is
// released and the bus stays usable, as after its panic.
func TestReplicatorGoexitFailsTheBus(t *testing.T) {
	for _, method := range []string{"MaxRecordBytes", "Replicate", "WaitStored"} {
		t.Run(method, func(t *testing.T) {
			rep := &goexitReplicator{}
			e := openMemBounded(t, &Options{Replicator: rep, Sync: SyncReplicated})
			rep.in.Store(method) // after Open: pages are created below through the log too
			var returned atomic.Bool
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				_, _ = e.CreatePage(ctx, PageSpec{Size: 8})
				returned.Store(true)
			}()
			waitFor(t, ended, "the committing goroutine to end")
			if returned.Load() {
				t.Fatalf("CreatePage returned: Replicator.%s was not called", method)
			}
			rep.in.Store("")
			boundedCall(t, "the calls after", func() {
				_, err := e.CreatePage(ctx, PageSpec{Size: 8})
				if method == "MaxRecordBytes" {
					if err != nil || e.Err() != nil {
						t.Errorf("after MaxRecordBytes exited: CreatePage = %v, Err() = %v; want the bus usable", err, e.Err())
					}
					return
				}
				want := "Replicator." + method + " ended its goroutine"
				if err := e.Err(); !errors.Is(err, ErrFailed) || !errors.Is(err, ErrReplication) || !strings.Contains(err.Error(), want) {
					t.Errorf("Err() after Replicator.%s exited = %v; want ErrFailed wrapping ErrReplication naming %q", method, err, want)
				}
				if !errors.Is(err, ErrFailed) {
					t.Errorf("CreatePage after Replicator.%s exited = %v; want ErrFailed", method, err)
				}
			})
		})
	}
}
