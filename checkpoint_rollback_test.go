package mmsb

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestRollBackAllMatchesOneByOne: rolling back many pages in interleaved
// lanes (rollBackAll) gives each page exactly what walking its own undo
// chain alone gives (rollBack), for chains of every length from none to
// many, recorded interleaved across pages as commits record them, with
// overlapping writes (newest first matters), and more pages than lanes.
// Negative control: rollBack applied oldest first (a wrong expectation
// built here) differs, so the comparison can fail.
func TestRollBackAllMatchesOneByOne(t *testing.T) {
	const pages, size = 3*rollLanes + 5, 64
	r := rand.New(rand.NewPCG(7, 11))
	var undos chunked[cowUndo]
	var bigs chunked[[]byte]
	heads := make([]int32, pages) // newest undo + 1 per page
	// Every page but a few gets changes; records are added in a random
	// page order, as commits add them.
	for range 40 * pages {
		p := r.IntN(pages)
		if p%7 == 3 {
			continue // some pages keep no undo at all
		}
		// Mostly bytes the record holds, some it does not (bigs).
		old := make([]byte, 1+r.IntN(cowInline+8))
		for i := range old {
			old[i] = byte(r.Uint32())
		}
		off := uint32(r.IntN(size - len(old)))
		k := undos.add()
		u := undos.at(k)
		u.prev, u.off, u.n = heads[p], off, uint32(len(old))
		if len(old) <= cowInline {
			copy(u.data[:], old)
		} else {
			kb := bigs.add()
			*bigs.at(kb) = old
			u.big = int32(kb + 1)
		}
		heads[p] = int32(k + 1)
	}
	recs := cowRecords{undos: undos.chunks, bigs: bigs.chunks}
	live := make([][]byte, pages)
	for p := range live {
		live[p] = make([]byte, size)
		for i := range live[p] {
			live[p][i] = byte(r.Uint32())
		}
	}
	want := make([][]byte, pages)
	jobs := make([]rollJob, pages)
	for p := range pages {
		want[p] = bytes.Clone(live[p])
		recs.rollBack(&cowPage{undo: heads[p]}, want[p])
		jobs[p] = rollJob{undo: heads[p], b: bytes.Clone(live[p])}
	}
	recs.rollBackAll(jobs)
	for p := range pages {
		if !bytes.Equal(jobs[p].b, want[p]) {
			t.Fatalf("page %d rolled back in lanes:\n% x\nalone:\n% x", p, jobs[p].b, want[p])
		}
	}

	// The control: oldest first gives other bytes for some page.
	differs := false
	for p := range pages {
		var chain []*cowUndo
		for k := heads[p]; k != 0; k = undos.at(int(k - 1)).prev {
			chain = append(chain, undos.at(int(k-1)))
		}
		b := bytes.Clone(live[p])
		for i := len(chain) - 1; i >= 0; i-- {
			copy(b[chain[i].off:], recs.old(chain[i]))
		}
		if !bytes.Equal(b, want[p]) {
			differs = true
		}
	}
	if !differs {
		t.Fatal("applying undo records oldest first gave the same bytes: the comparison cannot tell a wrong order")
	}
}
