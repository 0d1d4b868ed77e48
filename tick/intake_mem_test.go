package tick

import (
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestIntakeLetsGoOfLargeDeltaBuffers: the intake's buffers, which hold the
// copies of submitted deltas and are reused tick after tick, do not keep
// the size of the largest deltas ever submitted: after one tick of 32
// whole-page writes of 1 MiB the orchestrator held 32 MiB until closed.
func TestIntakeLetsGoOfLargeDeltaBuffers(t *testing.T) {
	const n, size = 32, 1 << 20
	e := openMem(t, &mmsb.Options{DisableLog: true, HistoryEntries: -1}) // no log: it would hold the bytes, rightly
	ids := mustCreate(t, e, n, size)
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	heapBefore := testutil.HeapAlloc()
	for _, id := range ids {
		submitAll(t, o, delta.Delta{Page: id, Runs: []delta.Run{{Data: make([]byte, size)}}})
	}
	if r, err := o.Tick(ctx); err != nil || r.Committed != n {
		t.Fatalf("tick of the large writes: %+v, %v", r, err)
	}
	for range 3 { // small writes cycle the buffers through the intake again
		for _, id := range ids {
			submitAll(t, o, delta.Delta{Page: id, Runs: []delta.Run{{Data: []byte("small")}}})
		}
		if _, err := o.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if grew := testutil.HeapAlloc() - heapBefore; grew > 8<<20 {
		t.Fatalf("the orchestrator holds %d more bytes of heap after the large writes were committed", grew)
	}
}
