package mmsb

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/mmsb-go/mmsb/delta"
)

// TestPropertyParallelApplyEqualsSerial commits the same random batches
// (large enough for the parallel path, with repeated pages, CheckEpoch
// deltas and sometimes a bad delta) to buses with 1 to 4 apply workers, and
// checks after every batch that they accept or refuse it alike and hold the
// same state, and at the end that each replays to its live state.
func TestPropertyParallelApplyEqualsSerial(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		buses := make([]*Bus, 4)
		for i := range buses {
			e, err := Open("", &Options{Clock: testClock(), Workers: i + 1})
			if err != nil {
				rt.Fatal(err)
			}
			defer e.Close()
			buses[i] = e
		}
		npages := rapid.IntRange(1, 3000).Draw(rt, "pages")
		specs := make([]PageSpec, npages)
		for i := range specs {
			specs[i] = PageSpec{Size: 64}
		}
		var ids []PageID
		for _, e := range buses {
			got, err := e.CreatePages(ctx, specs)
			if err != nil {
				rt.Fatal(err)
			}
			ids = got
		}
		for b, batches := 0, rapid.IntRange(1, 6).Draw(rt, "batches"); b < batches; b++ {
			n := rapid.IntRange(1, 2*parallelMin+chunkDeltas).Draw(rt, "deltas")
			hot := rapid.IntRange(1, npages).Draw(rt, "hot pages") // few hot pages: many deltas per page
			checkEpoch := rapid.IntRange(0, 3).Draw(rt, "check epoch") == 0
			ds := make([]delta.Delta, n)
			for i := range ds {
				id := ids[rapid.IntRange(0, hot-1).Draw(rt, "page")]
				off := rapid.IntRange(0, 60).Draw(rt, "off")
				ds[i] = w(id, off, string([]byte{byte(b), byte(i), byte(i >> 8)}))
			}
			if checkEpoch {
				k := rapid.IntRange(0, n-1).Draw(rt, "epoch delta")
				ds[k].CheckEpoch = true
				ds[k].Epoch = buses[0].pageEpoch(ds[k].Page) // right unless the batch wrote it earlier
			}
			if rapid.IntRange(0, 5).Draw(rt, "bad") == 0 {
				ds[rapid.IntRange(0, n-1).Draw(rt, "bad delta")] = w(ids[0], 1000, "x")
			}
			var errs []error
			for _, e := range buses {
				_, err := e.Commit(ctx, append([]delta.Delta(nil), ds...))
				errs = append(errs, err)
			}
			want := hashOf(rt, buses[0])
			for i, e := range buses[1:] {
				if (errs[i+1] == nil) != (errs[0] == nil) {
					rt.Fatalf("batch %d: %d workers: err %v, 1 worker: err %v", b, i+2, errs[i+1], errs[0])
				}
				if got := hashOf(rt, e); got != want {
					rt.Fatalf("batch %d: %d workers state %x, 1 worker %x", b, i+2, got, want)
				}
			}
		}
		for i, e := range buses {
			rep, err := e.VerifyReplay(ctx, false)
			if err != nil || !rep.Equal() {
				rt.Fatalf("%d workers: replay: %v %v", i+1, err, rep.Differences)
			}
		}
	})
}
