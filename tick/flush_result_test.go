package tick

import (
	"bytes"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestFlushResultOwnedByCaller: the result of FlushPropagation stays as
// the flush left it. It was the orchestrator's own, which the next wave
// overwrote: the second flush here rewrote the first flush's Writes (and
// under Run, a caller reading it raced the ticks). The control is the
// second result itself, which reports its own wave.
func TestFlushResultOwnedByCaller(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 2, 8)
	if err := e.Bind(ctx, ids[1], "passthrough", nil, []mmsb.PageID{ids[0]}); err != nil {
		t.Fatal(err)
	}
	o := newOrch(t, e, &Options{Deferred: true, SkipStartupResync: true})
	var results []*mmsb.PropagateResult
	var want, wantLast []mmsb.LSN
	for i := range 2 {
		submitAll(t, o, mmsb.Write(ids[0], 0, bytes.Repeat([]byte{byte(i + 1)}, 8)))
		if _, err := o.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := o.FlushPropagation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Writes) != 1 || res.Writes[0].Page != ids[1] {
			t.Fatalf("flush %d wrote %+v, want one write of page %d", i, res.Writes, ids[1])
		}
		results, want = append(results, res), append(want, res.Writes[0].LSN)
		wantLast = append(wantLast, res.LastLSN) // the wave's record ends with its wave op, after the write
	}
	if want[0] == want[1] {
		t.Fatalf("both flushes wrote at LSN %d, want two waves", want[0])
	}
	for i, res := range results {
		if got := res.Writes[0].LSN; got != want[i] || res.LastLSN != wantLast[i] {
			t.Errorf("flush %d's result: write LSN %d, LastLSN %d after the later flush, want %d and %d as it returned", i, got, res.LastLSN, want[i], wantLast[i])
		}
	}
}
