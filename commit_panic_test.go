package mmsb

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// boundedCall runs fn and fails the test if it has not returned after a
// generous deadline: the bus's lock was left held. It returns the value
// of a panic out of fn (nil if none).
func boundedCall(t *testing.T, what string, fn func()) (panicked any) {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		fn()
	}()
	select {
	case v := <-done:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("%s still running after 20 s: the bus's lock was left held", what)
		return nil
	}
}

// openMemBounded is openMem whose Close at cleanup is bounded
// (boundedCall): a bus whose lock a panic left held fails the test
// instead of hanging it until the test binary's timeout.
func openMemBounded(t *testing.T, o *Options) *Bus {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Clock == nil {
		o.Clock = testClock()
	}
	e, err := Open("", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boundedCall(t, "Close", func() { _ = e.Close() }) })
	return e
}

// TestFilePanicFailsBus: a log file whose Write or Sync panics fails the
// bus as a failed write does: the commit returns ErrFailed naming the
// panic (it does not panic), later calls return it promptly, and Close
// ends. Before, the panic left the log's mutex unlocked under a deferred
// Unlock: the process died with "fatal error: sync: unlock of unlocked
// mutex".
func TestFilePanicFailsBus(t *testing.T) {
	for _, tc := range []struct {
		name string
		sync SyncMode
		kind errorfs.OpKind
	}{
		{"writeAlways", SyncAlways, errorfs.OpWrite},
		{"syncGroup", SyncGroup, errorfs.OpSync},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var armed atomic.Bool
			inj := errorfs.OnPath("wal", errorfs.InjectorFunc(func(op errorfs.Op) error {
				if armed.Load() && op.Kind == tc.kind {
					panic("driver bug")
				}
				return nil
			}))
			e, err := Open("/db", &Options{FS: errorfs.Wrap(vfs.NewMem(), inj), Sync: tc.sync, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			defer boundedCall(t, "Close", func() { _ = e.Close() })
			id, err := e.CreatePage(ctx, PageSpec{Size: 8})
			if err != nil {
				t.Fatal(err)
			}
			armed.Store(true)
			if v := boundedCall(t, "Commit", func() { _, err = e.Commit(ctx, []Delta{w(id, 0, "x")}) }); v != nil {
				t.Fatalf("Commit panicked with %v; want the bus failed and an error", v)
			}
			if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "driver bug") {
				t.Fatalf("Commit with a panicking log file = %v; want ErrFailed naming the panic", err)
			}
			armed.Store(false)
			boundedCall(t, "the calls after", func() {
				if _, err := e.Commit(ctx, []Delta{w(id, 0, "y")}); !errors.Is(err, ErrFailed) {
					t.Errorf("Commit after = %v; want ErrFailed", err)
				}
				if err := e.Err(); !errors.Is(err, ErrFailed) {
					t.Errorf("Err() = %v; want ErrFailed", err)
				}
			})
		})
	}
}

// TestCommitPanicFailsBus: a panic out of the bus's own code inside
// Commit's or a control operation's critical section (a defect, made here
// by breaking the commit-time ring that both stamp after applying) fails
// the bus (sticky ErrFailed naming the panic), releases the bus's lock and
// goes on to the caller; later writes return ErrFailed, reads answer (a
// read of page bytes with the failure: the page may hold part of the
// batch) and Close ends. Before, the lock stayed held: the next call, Close too,
// waited for ever (tick recovers such a panic and goes on ticking).
func TestCommitPanicFailsBus(t *testing.T) {
	for _, op := range []string{"Commit", "CreatePage"} {
		t.Run(op, func(t *testing.T) {
			e := openMemBounded(t, nil)
			id, err := e.CreatePage(ctx, PageSpec{Size: 8})
			if err != nil {
				t.Fatal(err)
			}
			e.mu.Lock()
			e.commits = []commitStamp{} // stampCommit indexes it: out of range
			e.mu.Unlock()
			v := boundedCall(t, op, func() {
				if op == "Commit" {
					_, _ = e.Commit(ctx, []Delta{w(id, 0, "x")})
				} else {
					_, _ = e.CreatePage(ctx, PageSpec{Size: 8})
				}
			})
			if v == nil {
				t.Fatalf("%s did not panic: the test's defect was not reached", op)
			}
			boundedCall(t, "the calls after", func() {
				err := e.Err()
				if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "index out of range") {
					t.Errorf("Err() after the panic = %v; want ErrFailed naming the panic", err)
				}
				if _, err := e.Commit(ctx, []Delta{w(id, 0, "y")}); !errors.Is(err, ErrFailed) {
					t.Errorf("Commit after = %v; want ErrFailed", err)
				}
				// The page may hold part of the batch: the read answers
				// with the failure, not with those bytes.
				if _, _, err := e.ReadPage(id, nil); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "panicked") {
					t.Errorf("Read after = %v; want the bus's failure", err)
				}
				if _, err := e.Page(id); err != nil {
					t.Errorf("Page after = %v", err)
				}
				if err := e.Close(); err != nil && !errors.Is(err, ErrFailed) {
					t.Errorf("Close after = %v", err)
				}
			})
		})
	}
}
