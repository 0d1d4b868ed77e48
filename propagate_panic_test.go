package mmsb

import (
	"errors"
	"strings"
	"testing"
)

// TestPropagatePanicReleasesTheBus: a panic out of the bus's own code in
// a propagation wave (a defect, made here by breaking the bus's state)
// goes on to the caller and releases the bus's lock. Under the lock held
// exclusively (applying the wave, or computing it under the lock) the
// bus fails, as for such a panic in Commit: later writes return ErrFailed,
// reads answer and Close ends. Computing it without the lock, under the
// read lock of a step, the wave has applied nothing: the bus goes on, and
// the next wave computes what it did not. Before, the lock stayed held
// and every later call, Close too, waited for ever.
func TestPropagatePanicReleasesTheBus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails bool // the panic is under the exclusive lock: the bus fails
		// breaks the bus so that the next wave panics, and mends it
		// (nil: it stays failed)
		breakBus func(e *Bus, child PageID) (mend func())
	}{
		{"applying", true, func(e *Bus, _ PageID) func() {
			e.commits = []commitStamp{} // stampCommit indexes it: out of range
			return nil
		}},
		{"computing locked", true, func(e *Bus, child PageID) func() {
			e.prop.lockedLeft = 1 // the next wave computes under the lock
			e.bindings[child] = nil
			return nil
		}},
		{"computing unlocked", false, func(e *Bus, child PageID) func() {
			b := e.bindings[child]
			e.bindings[child] = nil // a step dereferences it, under the read lock
			return func() {
				e.mu.Lock()
				e.bindings[child] = b
				e.mu.Unlock()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openMemBounded(t, &Options{Functions: map[string]RecomputeFunc{
				"plus1": func(in [][]byte, _ []byte, out []byte) error {
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
			e.mu.Lock()
			mend := tc.breakBus(e, ids[1])
			e.mu.Unlock()
			if v := boundedCall(t, "Propagate", func() { _, _ = e.Propagate(ctx) }); v == nil {
				t.Fatal("Propagate did not panic: the test's defect was not reached")
			}
			boundedCall(t, "the calls after", func() {
				if _, _, err := e.ReadPage(ids[0], nil); (err != nil) != tc.fails || (tc.fails && !errors.Is(err, ErrFailed)) {
					t.Errorf("Read after = %v (a failed bus's pages may hold part of the wave: ErrFailed)", err)
				}
				_, cerr := e.Commit(ctx, []Delta{{Page: ids[0], Runs: []Run{{Data: []byte{7}}}}})
				if tc.fails {
					if err := e.Err(); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "propagation wave panicked") {
						t.Errorf("Err() after the panic = %v; want ErrFailed naming the panic", err)
					}
					if !errors.Is(cerr, ErrFailed) {
						t.Errorf("Commit after = %v; want ErrFailed", cerr)
					}
					if _, err := e.Propagate(ctx); !errors.Is(err, ErrFailed) {
						t.Errorf("Propagate after = %v; want ErrFailed", err)
					}
				} else {
					if cerr != nil {
						t.Errorf("Commit after = %v", cerr)
					}
					mend()
					if _, err := e.Propagate(ctx); err != nil {
						t.Errorf("Propagate after = %v", err)
					}
					if got, _, err := e.ReadPage(ids[1], nil); err != nil || got[0] != 8 {
						t.Errorf("derived page after = %v, %v; want [8]", got, err)
					}
				}
				if err := e.Close(); err != nil && !errors.Is(err, ErrFailed) {
					t.Errorf("Close after = %v", err)
				}
			})
		})
	}
}
