package mmsb

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/internal/page"
)

// TestPipelinedSplitEqualsSerial: a pipelined batch is split (stampSplit)
// between the helper, which applies its head from the logged record, and
// the committer, which applies its tail from the caller's deltas at the
// same time; tail deltas to pages the head also writes wait for the head,
// on the helper. Batches over few pages, whose deltas overlap inside the
// pages across the split, of every form, are committed to a one-worker bus
// and to two-worker buses with the split pinned at every 64th that
// matters and adaptive; after every batch the states must hash equal,
// and at the end each bus replays to its live state. The helper is held
// back on some batches, so that the committer's tail is surely copied
// first. Negative controls (by hand): deferring no tail delta fails at
// the first batch ("state ... the one-worker bus ..."); deferring only
// those whose page the head wrote, not later ones to a page deferred
// before, fails within a few batches.
func TestPipelinedSplitEqualsSerial(t *testing.T) {
	shares := []int{-1, 0, 1, 8, 32, 48, 63, 64}
	serial := openT(t, "", &Options{Clock: testClock(), Workers: 1})
	buses := make([]*Bus, len(shares))
	for i, share := range shares {
		buses[i] = openT(t, "", &Options{Clock: testClock(), Workers: 2})
		buses[i].applier.fixedShare = share
	}
	const pages = 40
	ids := mustCreateOnEach(t, pages, 64, append([]*Bus{serial}, buses...))
	rng := rand.New(rand.NewPCG(7, 9))
	for b := 0; b < 60; b++ {
		hot := 1 + rng.IntN(pages) // few hot pages: deltas to one page on both sides of the split
		ds := overlappingBatch(rng, ids[:hot], b)
		n := len(ds)
		hold := b%3 == 0
		for _, e := range buses {
			if hold {
				e.applier.holdApplyWrites = func([]byte) { time.Sleep(time.Millisecond) }
			} else {
				e.applier.holdApplyWrites = nil
			}
		}
		for _, e := range append([]*Bus{serial}, buses...) {
			if _, err := e.Commit(ctx, append([]delta.Delta(nil), ds...)); err != nil {
				t.Fatalf("batch %d, %d workers: %v", b, e.applier.workers, err)
			}
		}
		want := hashOf(t, serial)
		for i, e := range buses {
			if got := hashOf(t, e); got != want {
				t.Fatalf("batch %d (%d deltas over %d pages), helper's share %d/64: state %x, the one-worker bus %x", b, n, hot, shares[i], got, want)
			}
		}
	}
	for i, e := range buses {
		rep, err := e.VerifyReplay(ctx, false)
		if err != nil || !rep.Equal() {
			t.Fatalf("share %d: replay: %v %v", shares[i], err, rep.Differences)
		}
	}
}

// mustCreateOnEach creates n pages of size bytes on each bus, in the same
// order, and returns their IDs (the same on every bus).
func mustCreateOnEach(t *testing.T, n, size int, buses []*Bus) []PageID {
	t.Helper()
	var ids []PageID
	for _, e := range buses {
		ids = mustCreate(t, e, n, size)
	}
	return ids
}

// overlappingBatch makes batch b of the split and queue tests: 1 to 4
// times parallelMin deltas over the pages ids, of every form, overlapping
// inside the pages (each is written in its first 64 bytes).
func overlappingBatch(rng *rand.Rand, ids []PageID, b int) []delta.Delta {
	n := parallelMin + rng.IntN(3*parallelMin)
	ds := make([]delta.Delta, n)
	for i := range ds {
		id := ids[rng.IntN(len(ids))]
		off := rng.IntN(56)
		switch rng.IntN(8) {
		case 0: // masked: the helper's full decode
			ds[i] = delta.Delta{Page: id, Form: delta.FormMaskedDense, Mask: []byte{byte(rng.Uint32()) | 1}, MaskLen: 8, Payload: []byte(fmt.Sprintf("%08d", i))}
		case 1: // two runs
			ds[i] = delta.Delta{Page: id, Runs: []delta.Run{{Offset: uint32(off), Data: []byte{byte(b), byte(i)}}, {Offset: 60, Data: []byte{byte(i >> 8), byte(i)}}}}
		default:
			ds[i] = w(id, off, fmt.Sprintf("%d.%d", b, i))
		}
	}
	return ds
}

// TestPipelinedQueueEqualsSerial: with batches waiting in the pipeline
// (up to pipeDepth, the helper held back so that the queue fills), a
// batch's tail deltas to pages that a waiting batch writes must wait for
// it too. Batches as in TestPipelinedSplitEqualsSerial are committed back
// to back, with no read between them (a read settles the queue), to a
// one-worker bus and to two-worker buses with the split pinned and
// adaptive; every few batches, and at the end, the states must hash
// equal, and each bus replays to its live state. The test checks that
// the queue did fill. Negative control (by hand): deferring only tail
// deltas whose page this batch's head wrote (prev >= first in
// stampSplit) fails it ("state ... the one-worker bus ...").
func TestPipelinedQueueEqualsSerial(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariant builds apply every batch before Commit returns: nothing is queued (the default build runs this test)")
	}
	shares := []int{-1, 0, 16, 48, 64}
	var serial *Bus
	buses := make([]*Bus, len(shares))
	deepest := make([]atomic.Int64, len(shares))
	// A history ring of 1,024 entries: a batch's tail entries, recorded
	// by the committer, share slots with a waiting batch's head entries
	// when the two span more (then the batch must wait: historyOverlaps).
	serial = openT(t, "", &Options{Clock: testClock(), Workers: 1, HistoryEntries: 1024})
	for i, share := range shares {
		e := openT(t, "", &Options{Clock: testClock(), Workers: 2, HistoryEntries: 1024})
		e.applier.fixedShare = share
		hold := holdUntilQueued(e.applier)
		e.applier.holdApplyWrites = func(rec []byte) {
			hold(rec)
			// The batch being applied still counts as pending.
			if n := int64(e.applier.pending()); n > deepest[i].Load() {
				deepest[i].Store(n)
			}
		}
		buses[i] = e
	}
	// Batches over 2,048 pages leave most of a batch's tail pages out of
	// its head, some of them written by the batch before, still waiting;
	// batches over 1 to 40 pages defer most of their tails.
	const pages = 2048
	ids := mustCreateOnEach(t, pages, 64, append([]*Bus{serial}, buses...))
	rng := rand.New(rand.NewPCG(11, 13))
	for b := 0; b < 80; b++ {
		spread := pages
		if b%4 == 3 {
			spread = 1 + rng.IntN(40)
		}
		ds := overlappingBatch(rng, ids[:spread], b)
		for _, e := range append([]*Bus{serial}, buses...) {
			if _, err := e.Commit(ctx, append([]delta.Delta(nil), ds...)); err != nil {
				t.Fatalf("batch %d, %d workers: %v", b, e.applier.workers, err)
			}
		}
		if b%10 != 9 {
			continue
		}
		want, wantHist := hashOf(t, serial), historyOf(serial)
		for i, e := range buses {
			if got := hashOf(t, e); got != want {
				t.Fatalf("after batch %d, helper's share %d/64: state %x, the one-worker bus %x", b, shares[i], got, want)
			}
			if got := historyOf(e); !slices.Equal(got, wantHist) {
				t.Fatalf("after batch %d, helper's share %d/64: the write-history ring differs from the one-worker bus's", b, shares[i])
			}
		}
	}
	for i, e := range buses {
		if d := deepest[i].Load(); d < pipeDepth {
			t.Errorf("share %d: at most %d batches waited for the helper, want the queue full (%d)", shares[i], d, pipeDepth)
		}
		rep, err := e.VerifyReplay(ctx, false)
		if err != nil || !rep.Equal() {
			t.Fatalf("share %d: replay: %v %v", shares[i], err, rep.Differences)
		}
	}
}

// historyOf returns a copy of the bus's write-history ring, settled.
func historyOf(b *Bus) []histEntry {
	b.lockSettled()
	defer b.mu.Unlock()
	return slices.Clone(b.hist)
}

// TestPipelinedSplitDefersTailDeltas checks stampSplit's choice on a
// batch built for it: with the split after delta 4 of 8, a tail delta to
// a page the head wrote is deferred, and so is a later one to that page;
// tail deltas to pages the head did not write are the committer's, and
// over maxDeferred deferred deltas the batch is not split.
func TestPipelinedSplitDefersTailDeltas(t *testing.T) {
	e := openT(t, "", &Options{Clock: testClock(), Workers: 2})
	ids := mustCreate(t, e, 8, 64)
	p := e.applier
	p.fixedShare = 32 // half: head 0-3, tail 4-7
	pagesOf := []int{0, 1, 2, 3, 1, 5, 1, 5}
	ds := make([]delta.Delta, len(pagesOf))
	for i, k := range pagesOf {
		ds[i] = w(ids[k], 0, "x")
	}
	split := func(ds []delta.Delta) (int, []int32) {
		e.mu.Lock()
		defer e.mu.Unlock()
		slots := make([]page.Slot, len(ds))
		for i := range ds {
			slots[i], _ = e.store.Lookup(ds[i].Page)
		}
		p.recOffs = make([]int32, len(ds))
		// Stamps only (nothing is applied or logged): a throwaway bus.
		tail := p.stampSplit(e, ds, slots, e.lastLSN+1, 0)
		e.lastLSN += LSN(len(ds))
		return tail, append([]int32(nil), p.preparing().split.idx...)
	}
	if tail, got := split(ds); tail != 4 || fmt.Sprint(got) != "[4 6]" {
		t.Fatalf("split at %d, deferred %v; want 4 and [4 6] (the tail's deltas to page %d, which the head writes)", tail, got, ids[1])
	}
	hot := make([]delta.Delta, 2*maxDeferred+4)
	for i := range hot {
		hot[i] = w(ids[0], 0, "y")
	}
	if tail, got := split(hot); tail != len(hot) || len(got) != 0 {
		t.Fatalf("one hot page: split at %d with %d deferred, want no split (%d) past %d deferred", tail, len(got), len(hot), maxDeferred)
	}
}

// TestPipelinedSplitDropsLargeOffsets: the record offsets a pipelined
// batch needs (4 bytes a delta) are kept for the next batch up to
// maxKeptOffsets, not for the bus's life after one huge batch. Before, a
// batch of 262,145 deltas left 1 MiB of offsets behind (a 10M-delta
// batch, 40 MB).
func TestPipelinedSplitDropsLargeOffsets(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariant builds apply every batch before Commit returns: nothing is pipelined (the default build runs this test)")
	}
	e := openT(t, "", &Options{Clock: testClock(), Workers: 2})
	ids := mustCreate(t, e, 1024, 64)
	for _, n := range []int{parallelMin, maxKeptOffsets + 1} {
		ds := make([]delta.Delta, n)
		for i := range ds {
			ds[i] = w(ids[i%len(ids)], i%60, "z")
		}
		if _, err := e.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
		e.lockSettled()
		kept := cap(e.applier.recOffs)
		e.mu.Unlock()
		if n <= maxKeptOffsets && kept < n {
			t.Fatalf("a batch of %d deltas: %d offsets kept, want them kept for the next batch", n, kept)
		}
		if n > maxKeptOffsets && kept != 0 {
			t.Fatalf("a batch of %d deltas: %d offsets kept, want none past %d", n, kept, maxKeptOffsets)
		}
	}
}
