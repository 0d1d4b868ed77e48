package mmsb

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestCancelledWaveResult: a wave its context ends applies nothing, and
// its result says only what happened: Recomputed counts the functions it
// called (it counted the page it stopped before, never computed: 1 for a
// wave whose context was done before it began), Failed lists exactly the
// pages whose function failed, nothing is held back or written, and every
// page of the wave stays pending for the next one, which computes them all.
func TestCancelledWaveResult(t *testing.T) {
	cases := []struct {
		name      string
		failing   bool // the first page's function fails in the cancelled wave
		cancelAt  int  // the call that cancels (0: before the wave)
		wantCalls int
		wantFail  []PageID // indexes into the bound pages, turned into IDs below
	}{
		{name: "done before the wave", wantCalls: 0},
		{name: "cancelled by the second call", cancelAt: 2, wantCalls: 2},
		{name: "first fails, second cancels", failing: true, cancelAt: 2, wantCalls: 2, wantFail: []PageID{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls, failing := 0, tc.failing
			fn := func(in [][]byte, params []byte, out []byte) error {
				calls++
				if calls == tc.cancelAt {
					cancel()
				}
				if failing && params[0] == 0 {
					return errors.New("first page fails")
				}
				out[0] = in[0][0] + 1
				return nil
			}
			e := openMem(t, &Options{Functions: map[string]RecomputeFunc{"f": fn}})
			ids := mustCreate(t, e, 4, 1)
			bound := ids[1:]
			for i, c := range bound {
				if err := e.Bind(ctx, c, "f", []byte{byte(i)}, ids[:1]); err != nil {
					t.Fatal(err)
				}
			}
			if tc.cancelAt == 0 {
				cancel()
			}
			var wantFailed []PageID
			for _, i := range tc.wantFail {
				wantFailed = append(wantFailed, bound[i])
			}
			var r PropagateResult
			err := e.PropagateInto(wctx, &r)
			if !errors.Is(err, context.Canceled) || calls != tc.wantCalls {
				t.Fatalf("cancelled wave: %d calls, %v; want %d, context.Canceled", calls, err, tc.wantCalls)
			}
			if r.Recomputed != calls {
				t.Fatalf("cancelled wave: Recomputed %d after %d calls: a page never computed counted", r.Recomputed, calls)
			}
			if !slices.Equal(r.Failed, wantFailed) || r.HeldBack != 0 || len(r.Writes) != 0 || r.LastLSN != 0 {
				t.Fatalf("cancelled wave: Failed %v, HeldBack %d, %d writes, LastLSN %d; want Failed %v (the pages whose function failed) and nothing held back or written",
					r.Failed, r.HeldBack, len(r.Writes), r.LastLSN, wantFailed)
			}
			if n := e.Pending(); n != len(bound) {
				t.Fatalf("pending %d after the cancelled wave, want %d: every bound page waits", n, len(bound))
			}
			calls, failing = 0, false
			if err := e.PropagateInto(ctx, &r); err != nil || calls != len(bound) || r.Recomputed != len(bound) || len(r.Failed) != 0 {
				t.Fatalf("next wave: %d calls, Recomputed %d, Failed %v, %v; want %d, %d, none, nil", calls, r.Recomputed, r.Failed, err, len(bound), len(bound))
			}
			if n := e.Pending(); n != 0 {
				t.Fatalf("pending %d after the next wave, want 0", n)
			}
			for _, c := range bound {
				if got, want := readByte(t, e, c), readByte(t, e, ids[0])+1; got != want {
					t.Fatalf("page %d = %d, want %d", c, got, want)
				}
			}
		})
	}
}
