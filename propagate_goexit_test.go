package mmsb

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestRecomputeGoexitReleasesTheBus: a recompute function that ends its
// goroutine with runtime.Goexit (t.FailNow or t.Fatal in a test's
// function, on the test's goroutine) ends the wave without a trace, but
// must not leave the bus locked. A wave computed under the lock (after a
// stale try, or in a run of locked waves) held the engine's lock through
// the call, and nothing released it: every later Commit, read and Close
// hung, and the test binary with them until its timeout. Computed without
// the lock, the wave's lock was already released around the call.
func TestRecomputeGoexitReleasesTheBus(t *testing.T) {
	for _, locked := range []bool{false, true} {
		name := "unlocked"
		if locked {
			name = "locked"
		}
		t.Run(name, func(t *testing.T) {
			var exit atomic.Bool
			e := openMem(t, &Options{Functions: map[string]RecomputeFunc{
				"plus1": func(in [][]byte, _ []byte, out []byte) error {
					if exit.Load() {
						runtime.Goexit()
					}
					out[0] = in[0][0] + 1
					return nil
				},
			}})
			ids := mustCreate(t, e, 2, 1)
			if err := e.Bind(ctx, ids[1], "plus1", nil, ids[:1]); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Propagate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Commit(ctx, []Delta{{Page: ids[0], Runs: []Run{{Data: []byte{5}}}}}); err != nil {
				t.Fatal(err)
			}
			if locked {
				e.prop.lockedLeft = 1 // the next wave computes under the lock
			}
			exit.Store(true)
			waveDone := make(chan struct{})
			go func() {
				defer close(waveDone)
				_, _ = e.Propagate(ctx)
			}()
			waitFor(t, waveDone, "the wave's goroutine to end")
			exit.Store(false)

			// The bus still works: a commit, a read and a wave that computes
			// what the ended one did not.
			busDone := make(chan error, 1)
			go func() {
				if _, err := e.Commit(ctx, []Delta{{Page: ids[0], Runs: []Run{{Data: []byte{7}}}}}); err != nil {
					busDone <- err
					return
				}
				if _, err := e.Propagate(ctx); err != nil {
					busDone <- err
					return
				}
				busDone <- nil
			}()
			select {
			case err := <-busDone:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the bus is still locked 20 s after a recompute function called runtime.Goexit")
			}
			got, _, err := e.ReadPage(ids[1], nil)
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != 8 {
				t.Fatalf("derived page = %d, want 8", got[0])
			}
			if n := e.Pending(); n != 0 {
				t.Fatalf("Pending = %d, want 0", n)
			}
		})
	}
}

// waitFor waits (up to 20 s: the machine may be loaded) for ch to close.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
