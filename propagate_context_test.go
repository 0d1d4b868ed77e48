package mmsb

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestWaveStopsWhenItsContextEnds: a wave calls no recompute function once
// its context is done, and ends with the context's error, logging and
// applying nothing (the dirty set stays for the next wave). It checked the
// context only every 1,024 steps: a wave of fewer pages ran every function
// and was logged with its context long done (here: three calls and a nil
// error after the first call cancelled it), so a caller could not stop a
// wave of a few hundred slow functions.
func TestWaveStopsWhenItsContextEnds(t *testing.T) {
	cases := []struct {
		name string
		// cancelAt is the call that cancels the wave's context (0: it is
		// cancelled before the wave); writeAt the call that commits to
		// the parent first, so that the wave goes stale and is computed
		// again under the lock (0: none).
		cancelAt, writeAt int
		wantCalls         int // calls made by the cancelled wave
	}{
		{name: "done before the wave", wantCalls: 0},
		{name: "cancelled by the first call", cancelAt: 1, wantCalls: 1},
		{name: "cancelled while computed again under the lock", cancelAt: 2, writeAt: 1, wantCalls: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var e *Bus
			var a PageID
			calls := 0
			fn := func(in [][]byte, _ []byte, out []byte) error {
				calls++
				if calls == tc.writeAt && !waveHoldsLock(e) {
					if _, err := e.Commit(ctx, []delta.Delta{{Page: a, Runs: []delta.Run{{Data: []byte{9}}}}}); err != nil {
						return err
					}
				}
				if calls == tc.cancelAt {
					cancel()
				}
				out[0] = in[0][0] + 1
				return nil
			}
			e = openMem(t, &Options{Functions: map[string]RecomputeFunc{"f": fn}})
			ids := mustCreate(t, e, 4, 1)
			a = ids[0]
			for _, c := range ids[1:] {
				if err := e.Bind(ctx, c, "f", nil, ids[:1]); err != nil {
					t.Fatal(err)
				}
			}
			if tc.cancelAt == 0 {
				cancel()
			}
			last := e.LastLSN()
			_, err := e.Propagate(wctx)
			if !errors.Is(err, context.Canceled) || calls != tc.wantCalls {
				t.Fatalf("wave with its context cancelled: %d calls, error %v; want %d calls, context.Canceled", calls, err, tc.wantCalls)
			}
			if again := e.Metrics().WavesComputedAgain; tc.writeAt != 0 && again != 1 {
				t.Fatalf("WavesComputedAgain %d, want 1: the wave was not computed again under the lock", again)
			}
			if tc.writeAt == 0 && e.LastLSN() != last {
				t.Fatalf("the cancelled wave logged LSNs %d..%d", last+1, e.LastLSN())
			}
			wantPending := 3 // the bound pages, not yet computed
			if tc.writeAt != 0 {
				wantPending++ // and page a, written by the first call
			}
			if n := e.Pending(); n != wantPending {
				t.Fatalf("pending %d after the cancelled wave, want %d (the bound pages wait, and a written parent)", n, wantPending)
			}
			calls = 0
			if _, err := e.Propagate(ctx); err != nil || calls != 3 {
				t.Fatalf("next wave: %d calls, %v; want 3 calls", calls, err)
			}
			want := readByte(t, e, a) + 1
			for _, c := range ids[1:] {
				if got := readByte(t, e, c); got != want {
					t.Fatalf("page %d = %d, want %d", c, got, want)
				}
			}
		})
	}
}
