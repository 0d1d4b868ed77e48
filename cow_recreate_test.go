package mmsb

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestCheckpointPagesRecreatedBetweenSteps: between a range's first step
// (scalars read, bytes located) and its copy, pages of the range are
// freed and created again under the same ID with another size (a small
// page as a large one, which has a mapping of its own, and large ones as
// small ones, before their range and between its steps), a
// freed page's cell is handed to a new page (zeroed, then written), a
// page created after the snapshot under an ID inside the range is
// written and freed, and a batch large enough for the parallel apply
// writes pages of the range. The checkpoint still holds exactly the state
// at its LSN, with one worker and with two.
func TestCheckpointPagesRecreatedBetweenSteps(t *testing.T) {
	withCheckpointWorkers(t, testCheckpointPagesRecreated)
}

func testCheckpointPagesRecreated(t *testing.T, e *Bus, opts *Options) {
	fs := opts.FS
	const small = 400
	specs := make([]PageSpec, 0, small+2)
	for i := 0; i < small; i++ {
		specs = append(specs, PageSpec{Size: 1024})
	}
	// Three large pages (each a mapping of its own), then a small one:
	// the first range ends at the first large page, the second is the
	// second large page alone.
	specs = append(specs, PageSpec{Size: 2 << 20}, PageSpec{Size: 2 << 20}, PageSpec{Size: 2 << 20}, PageSpec{Size: 1024})
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	large1, large2, large3, last := ids[small], ids[small+1], ids[small+2], ids[small+3]
	seed := make([]delta.Delta, 0, len(ids))
	for i, id := range ids {
		seed = append(seed, w(id, (i*13)%1000, fmt.Sprintf("seed-%d", i)))
	}
	if _, err := e.Commit(ctx, seed); err != nil {
		t.Fatal(err)
	}
	// Page ids[10] is not in the snapshot: the hook creates it again.
	if err := e.FreePage(ctx, ids[10]); err != nil {
		t.Fatal(err)
	}

	var hookErr error
	step := func(err error) {
		if hookErr == nil && err != nil {
			hookErr = err
		}
	}
	commit := func(ds ...delta.Delta) {
		_, err := e.Commit(ctx, ds)
		step(err)
	}
	recreate := func(id PageID, size int) {
		step(e.FreePage(ctx, id))
		_, err := e.CreatePages(ctx, []PageSpec{{ID: id, Size: size}})
		step(err)
	}
	calls := 0
	e.ckptAfterStep1 = func() {
		calls++
		switch calls {
		case 1: // the first range: ids[0] .. large1
			commit(w(ids[5], 0, "before-free"))
			recreate(ids[5], 3<<20) // small becomes large
			commit(w(ids[5], 3<<20-8, "late-end"))
			recreate(large1, 512) // large becomes small, after its range's first step
			commit(w(large1, 100, "was-large"))
			recreate(large3, 2048) // and before its range
			commit(w(large3, 1000, "large3-small"))
			step(e.FreePage(ctx, ids[6]))
			id, err := e.CreatePage(ctx, PageSpec{Size: 1024}) // may take ids[6]'s cell
			step(err)
			commit(w(id, 0, "new-in-old-cell"))
			recreate(ids[7], 1024) // same size: likely the same cell, zeroed
			commit(w(ids[7], 500, "same-size-again"))
			step(e.SetMetadata(ctx, ids[8], []MetaEntry{{Key: "k", Value: []byte("v")}}))
			commit(w(ids[8], 0, "meta-then-free"))
			step(e.FreePage(ctx, ids[8]))
			_, err = e.CreatePages(ctx, []PageSpec{{ID: ids[10], Size: 64}}) // not in the snapshot
			step(err)
			commit(w(ids[10], 0, "after-snapshot"))
			step(e.FreePage(ctx, ids[10]))
			// A batch for the parallel apply, over pages of this range.
			ds := make([]delta.Delta, 0, parallelMin+64)
			for k := 0; len(ds) < cap(ds); k++ {
				if id := ids[20+k%300]; id != ids[5] {
					ds = append(ds, w(id, (k*7)%1000, "parallel"))
				}
			}
			commit(ds...)
		case 2: // large2 alone, freed and created again between its steps
			recreate(large2, 1024)
			commit(w(large2, 0, "large2-small"))
			commit(w(last, 10, "last-page"))
		}
	}
	before := e.LastLSN()
	info, err := e.Checkpoint(ctx)
	e.ckptAfterStep1 = nil
	if err != nil {
		t.Fatal(err)
	}
	if hookErr != nil {
		t.Fatal(hookErr)
	}
	if calls < 3 || info.LSN != before || e.LastLSN() <= before {
		t.Fatalf("hook ran %d times (want a call per range, 3 or more); checkpoint LSN %d, before %d, now %d", calls, info.LSN, before, e.LastLSN())
	}
	checkpointEqualsReplay(t, e, fs, info)
}
