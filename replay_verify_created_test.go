package mmsb

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/page"
)

// TestVerifyReplayComparesPagesCreatedBelowTheCursor: pages created during
// the stepped comparison with an ID below the range being compared (an
// explicit PageSpec.ID of a freed page, or a page freed and created again)
// are compared once the ranges are done. Before VerifyReplay noted them, such
// a page was never compared: the controls (its bytes or metadata changed
// behind the log) came out Equal, and Pages left it out.
func TestVerifyReplayComparesPagesCreatedBelowTheCursor(t *testing.T) {
	const pages = 3*verifyStepPages + 100 // four ranges of pages of 64 bytes
	const hole = 5                        // ids[hole] is freed before the verification
	const again = 7                       // ids[again] is freed and created again, with another size
	type hooks struct {
		step1, step2 func(t *testing.T, e *Bus, ids []PageID) // after the first and the second step
	}
	createHole := func(t *testing.T, e *Bus, ids []PageID) {
		if _, err := e.CreatePage(ctx, PageSpec{ID: ids[hole], Size: 128, Meta: []MetaEntry{{Key: "k", Value: []byte("v")}}}); err != nil {
			t.Error(err)
		}
		if _, err := e.Commit(ctx, []Delta{Write(ids[hole], 3, []byte("created below the cursor"))}); err != nil {
			t.Error(err)
		}
	}
	recreate := func(t *testing.T, e *Bus, ids []PageID) {
		if err := e.FreePage(ctx, ids[again]); err != nil {
			t.Error(err)
		}
		if _, err := e.CreatePage(ctx, PageSpec{ID: ids[again], Size: 200}); err != nil {
			t.Error(err)
		}
		if _, err := e.Commit(ctx, []Delta{Write(ids[again], 150, []byte("again"))}); err != nil {
			t.Error(err)
		}
	}
	behind := func(id func(ids []PageID) PageID, change func(e *Bus, sl page.Slot)) func(t *testing.T, e *Bus, ids []PageID) {
		return func(_ *testing.T, e *Bus, ids []PageID) {
			e.lockSettled()
			defer e.mu.Unlock()
			sl, _ := e.store.Lookup(id(ids))
			change(e, sl)
		}
	}
	flipByte := func(e *Bus, sl page.Slot) { e.store.Bytes(sl)[10] ^= 0xff }
	hidden := func(ids []PageID) PageID { return ids[hole] }
	for _, tc := range []struct {
		name      string
		h         hooks
		wantPages int  // Pages in the report
		diff      bool // a control: the report must show one differing page
	}{
		{"created below the cursor", hooks{step1: createHole}, pages, false},
		{"created and freed below the cursor", hooks{step1: createHole, step2: func(t *testing.T, e *Bus, ids []PageID) {
			if err := e.FreePage(ctx, ids[hole]); err != nil {
				t.Error(err)
			}
		}}, pages - 1, false},
		// Compared in its range before, and again after it.
		{"freed and created again with another size", hooks{step1: recreate}, pages, false},
		{"control: bytes of a page created below the cursor changed behind the log", hooks{step1: createHole, step2: behind(hidden, flipByte)}, pages, true},
		{"control: metadata of a page created below the cursor changed behind the log", hooks{step1: createHole, step2: behind(hidden, func(e *Bus, sl page.Slot) {
			if err := e.store.SetMeta(sl, []page.MetaEntry{{Key: "k", Value: []byte("w")}}); err != nil {
				panic(err)
			}
		})}, pages, true},
		{"control: bytes of a page created again changed behind the log", hooks{step1: recreate, step2: behind(func(ids []PageID) PageID { return ids[again] }, flipByte)}, pages, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openT(t, t.TempDir(), &Options{CheckpointBytes: -1})
			defer func() { _ = e.Close() }()
			ids := mustCreate(t, e, pages, 64)
			if err := e.FreePage(ctx, ids[hole]); err != nil {
				t.Fatal(err)
			}
			steps := 0
			e.verifyStepped = func(next PageID) {
				steps++
				if next <= ids[again] {
					t.Errorf("after step %d the cursor is at %d: the pages used are not below it", steps, next)
				}
				switch {
				case steps == 1 && tc.h.step1 != nil:
					tc.h.step1(t, e, ids)
				case steps == 2 && tc.h.step2 != nil:
					tc.h.step2(t, e, ids)
				}
			}
			rep := verifySteppedReport(t, e, &steps)
			if tc.diff {
				if rep.Equal() || rep.PagesDiffering != 1 || rep.Pages != tc.wantPages {
					t.Fatalf("a change behind the log of a page created below the cursor was not caught (want 1 differing page of %d): %+v", tc.wantPages, rep)
				}
				return
			}
			if !rep.Equal() || rep.LSN != e.LastLSN() || rep.Pages != tc.wantPages {
				t.Fatalf("report at LSN %d (bus at %d), want Equal with %d pages: %+v", rep.LSN, e.LastLSN(), tc.wantPages, rep)
			}
		})
	}
}

// TestVerifyReplayManyPagesCreatedBelowTheCursor: more pages created below
// the cursor than one step compares; they are compared in step-sized
// pieces, each after a catch-up, and all of them count.
func TestVerifyReplayManyPagesCreatedBelowTheCursor(t *testing.T) {
	const pages = 3*verifyStepPages + 100
	const holes = verifyStepPages + 10 // freed before, created again after the second step
	e := openT(t, t.TempDir(), &Options{CheckpointBytes: -1})
	defer func() { _ = e.Close() }()
	ids := mustCreate(t, e, pages, 64)
	// The holes are the first pages after the first range: the second
	// range passes over them.
	for _, id := range ids[verifyStepPages : verifyStepPages+holes] {
		if err := e.FreePage(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	steps, afterRanges := 0, 0
	var last PageID
	e.verifyStepped = func(next PageID) {
		if steps++; steps == 1 {
			if next > ids[verifyStepPages] {
				t.Errorf("after the first step the cursor is at %d, past the holes", next)
			}
			return
		}
		if steps == 2 {
			if next <= ids[verifyStepPages+holes-1] {
				t.Errorf("after the second step the cursor is at %d, below the last hole", next)
			}
			re := make([]PageSpec, holes)
			for i := range re {
				re[i] = PageSpec{ID: ids[verifyStepPages+i], Size: 32}
			}
			if _, err := e.CreatePages(ctx, re); err != nil {
				t.Error(err)
			}
		}
		if next == last {
			afterRanges++ // the cursor stays put once the ranges are done
		}
		last = next
	}
	rep, err := e.VerifyReplay(ctx, false)
	e.verifyStepped = nil
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Equal() || rep.Pages != pages {
		t.Fatalf("want Equal with %d pages: %+v", pages, rep)
	}
	// The step of the last range, then one of verifyStepPages pages; the
	// last piece finishes.
	if afterRanges != 2 {
		t.Fatalf("%d steps after the ranges, want 2: %d pages created below the cursor were not compared in two pieces", afterRanges, holes)
	}
}

// TestCompareAgainSteps: compareAgain compares at most verifyStepPages
// pages or verifyStepBytes bytes of them (at least one page) per call, in
// ID order, once each however often a page was noted; a page on one side
// only differs, one on neither is skipped.
func TestCompareAgainSteps(t *testing.T) {
	e := openT(t, t.TempDir(), &Options{CheckpointBytes: -1})
	defer func() { _ = e.Close() }()
	specs := make([]PageSpec, verifyStepPages+50)
	for i := range specs {
		specs[i] = PageSpec{Size: 16}
	}
	specs = append(specs, PageSpec{Size: verifyStepBytes / 2}, PageSpec{Size: verifyStepBytes / 2}, PageSpec{Size: 8})
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Replay(ctx, ReplayTarget{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.discard()
	c := newReplayComparer()
	c.rangesDone = true
	c.again = append(c.again, ids...)
	c.again = append(c.again, ids[:100]...)      // noted twice
	c.again = append(c.again, ids[len(ids)-1]+5) // on neither side
	rand.Shuffle(len(c.again), func(i, j int) { c.again[i], c.again[j] = c.again[j], c.again[i] })
	e.rlockSettled()
	defer e.mu.RUnlock()
	var got []int
	for range 10 {
		done := c.compareAgain(e, r)
		got = append(got, c.out.Pages)
		if done {
			break
		}
	}
	// verifyStepPages small pages; the 50 left and the two big ones (1 MiB
	// reached); the last page (and the ID on neither side).
	if want := []int{verifyStepPages, verifyStepPages + 52, len(ids)}; !slices.Equal(got, want) {
		t.Fatalf("pages compared after each call %v, want %v", got, want)
	}
	if c.out.PagesDiffering != 0 {
		t.Fatalf("equal pages differ: %+v", c.out)
	}
	// A page on one side only.
	c.again = []PageID{ids[0]}
	if err := r.store.FreeAt(ids[0], uint64(r.lastLSN)); err != nil {
		t.Fatal(err)
	}
	if !c.compareAgain(e, r) || c.out.PagesDiffering != 1 {
		t.Fatalf("a page missing from the replay was not seen: %+v", c.out)
	}
}
