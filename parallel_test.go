package mmsb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/internal/semiring"
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
			masked := rapid.IntRange(0, 3).Draw(rt, "masked") == 0
			ds := make([]delta.Delta, n)
			for i := range ds {
				id := ids[rapid.IntRange(0, hot-1).Draw(rt, "page")]
				off := rapid.IntRange(0, 60).Draw(rt, "off")
				ds[i] = w(id, off, string([]byte{byte(b), byte(i), byte(i >> 8)}))
				if masked && i%7 == 3 { // masked forms apply in place, not pipelined
					ds[i], _ = delta.ToMaskedSparse(&ds[i], 64)
				}
			}
			if checkEpoch {
				k := rapid.IntRange(0, n-1).Draw(rt, "epoch delta")
				ds[k].CheckEpoch = true
				ds[k].ExpectEpoch = buses[0].pageEpoch(ds[k].Page) // right unless the batch wrote it earlier
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

// TestPipelinedApplyReadsSettle: with two workers a large batch's bytes are
// copied into the pages by a helper after Commit returns. Reads must see
// the batch: the helper is held back here, so a read that did not wait for
// it would see the old bytes. Epochs and the deltas' stamps are set before
// Commit returns.
func TestPipelinedApplyReadsSettle(t *testing.T) {
	serial := openT(t, "", &Options{Clock: testClock(), Workers: 1})
	e := openT(t, "", &Options{Clock: testClock(), Workers: 2})
	ids := mustCreate(t, e, 2*parallelMin, 64)
	mustCreate(t, serial, 2*parallelMin, 64)
	e.applier.holdApplyWrites = func([]byte) { time.Sleep(20 * time.Millisecond) }
	batch := func(round int) []delta.Delta {
		ds := make([]delta.Delta, len(ids))
		for i, id := range ids {
			ds[i] = w(id, 8, fmt.Sprintf("round %d page %d", round, id))
		}
		return ds
	}
	for round := 0; round < 4; round++ {
		if _, err := serial.Commit(ctx, batch(round)); err != nil {
			t.Fatal(err)
		}
		ds := batch(round)
		info, err := e.Commit(ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		if ds[0].LSN != info.FirstLSN || ds[0].Epoch != Epoch(round+1) || ds[0].Time != info.Time {
			t.Fatalf("delta stamped LSN %d epoch %d time %d, want %d, %d, %d",
				ds[0].LSN, ds[0].Epoch, ds[0].Time, info.FirstLSN, round+1, info.Time)
		}
		switch round {
		case 0: // ReadPage, the last page first: the helper writes it last
			for i := len(ids) - 1; i >= 0; i-- {
				want := fmt.Sprintf("round %d page %d", round, ids[i])
				b, _, err := e.ReadPage(ids[i], nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(b[8 : 8+len(want)]); got != want {
					t.Fatalf("ReadPage after Commit: page %d reads %q, want %q", ids[i], got, want)
				}
			}
		case 1: // the state hash
			if got, want := hashOf(t, e), hashOf(t, serial); got != want {
				t.Fatalf("StateHash after Commit: %x, the serial bus %x", got, want)
			}
		case 2: // a replay compares every page with the live ones
			rep, err := e.VerifyReplay(ctx, false)
			if err != nil || !rep.Equal() {
				t.Fatalf("replay after a pipelined batch: %v %v", err, rep.Differences)
			}
		case 3: // a page freed and its memory reused must not get the batch's bytes late
			last := ids[len(ids)-1]
			if err := e.FreePage(ctx, last); err != nil {
				t.Fatal(err)
			}
			id, err := e.CreatePage(ctx, PageSpec{Size: 64})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond) // a late helper would have written by now
			b, _, err := e.ReadPage(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, make([]byte, 64)) {
				t.Fatalf("page %d created after a free reads %q, want zeros", id, b)
			}
		}
	}
}

// TestPipelinedApplyBatchForms: the helper decodes a pipelined batch's
// logged record, one-run deltas on a fast path and every other form in
// full, and a read right after Commit (the helper held back) must see
// the batch whatever its deltas: a CheckEpoch delta also sends the batch
// to the serial check. The state must equal a one-worker bus's after
// every round.
func TestPipelinedApplyBatchForms(t *testing.T) {
	for _, tc := range []struct {
		name string
		last func(id PageID, round int) delta.Delta // the batch's last delta
	}{
		{"runs", func(id PageID, round int) delta.Delta { return w(id, 0, fmt.Sprint(round)) }},
		{"check epoch", func(id PageID, round int) delta.Delta {
			d := w(id, 0, fmt.Sprint(round))
			d.CheckEpoch, d.ExpectEpoch = true, Epoch(round)
			return d
		}},
		{"masked", func(id PageID, round int) delta.Delta {
			return delta.Delta{Page: id, Form: delta.FormMaskedDense, Mask: []byte{1}, MaskLen: 8, Payload: bytes.Repeat([]byte{byte(round + 1)}, 8)}
		}},
		{"two runs, an intent, a literal source", func(id PageID, round int) delta.Delta {
			return delta.Delta{Page: id, Runs: []delta.Run{{Offset: 1, Data: []byte{byte(round)}}, {Offset: 60, Data: []byte{1, 2, 3, byte(round)}}},
				Intent: []byte("why"), Source: "a client"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serial := openT(t, "", &Options{Clock: testClock(), Workers: 1})
			e := openT(t, "", &Options{Clock: testClock(), Workers: 2})
			ids := mustCreate(t, e, 2*parallelMin+1, 64)
			mustCreate(t, serial, 2*parallelMin+1, 64)
			e.applier.holdApplyWrites = func([]byte) { time.Sleep(5 * time.Millisecond) }
			batch := func(round int) []delta.Delta {
				ds := make([]delta.Delta, len(ids))
				for i, id := range ids[:len(ids)-1] {
					ds[i] = w(id, 8, fmt.Sprintf("round %d page %d", round, id))
				}
				ds[len(ds)-1] = tc.last(ids[len(ids)-1], round)
				return ds
			}
			for round := 0; round < 3; round++ {
				for _, b := range []*Bus{serial, e} {
					if _, err := b.Commit(ctx, batch(round)); err != nil {
						t.Fatalf("round %d, %d workers: %v", round, b.applier.workers, err)
					}
				}
				want := fmt.Sprintf("round %d page %d", round, ids[len(ids)-2])
				b, _, err := e.ReadPage(ids[len(ids)-2], nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(b[8 : 8+len(want)]); got != want {
					t.Fatalf("round %d: ReadPage after Commit reads %q, want %q", round, got, want)
				}
				if got, want := hashOf(t, e), hashOf(t, serial); got != want {
					t.Fatalf("round %d: state hash %x, the one-worker bus %x", round, got, want)
				}
			}
		})
	}
}

// TestPipelinedApplyRing: a pipelined batch's record is copied into the
// staging ring (applyPipelined) and decoded there by the helper after
// Commit returns, while the caller builds and commits its next batch.
// Batch sizes cycle from 256 deltas to records larger than the ring (it
// grows), so that the ring wraps and is replaced; the helper is held on
// every batch and checks that the record it is about to apply did not
// change while it waited, and the state must equal a one-worker bus's
// after every round. Negative control (by hand): handing the helper the
// committer's encode buffer instead of a copy (the next commit rewrites
// it) fails the bus at the second batch ("malformed delta").
func TestPipelinedApplyRing(t *testing.T) {
	serial := openT(t, "", &Options{Clock: testClock(), Workers: 1, CheckpointBytes: -1})
	e := openT(t, "", &Options{Clock: testClock(), Workers: 2, CheckpointBytes: -1})
	const pages = 1024
	ids := mustCreate(t, e, pages, 64)
	mustCreate(t, serial, pages, 64)
	var (
		mu      sync.Mutex
		changed int
	)
	hold := holdUntilQueued(e.applier)
	e.applier.holdApplyWrites = func(rec []byte) {
		before := slices.Clone(rec)
		hold(rec)
		if !bytes.Equal(before, rec) {
			mu.Lock()
			changed++
			mu.Unlock()
		}
	}
	sizes := []int{256, 300, 20000, 1000, 70000, 256, 200000, 5000, 60000, 60000, 60000, 257}
	for round := 0; round < 3; round++ {
		for k, n := range sizes {
			ds := make([]delta.Delta, n)
			for i := range ds {
				x := uint32(round*7919 + k*104729 + i*31)
				ds[i] = w(ids[x%pages], int(x%48), fmt.Sprintf("%08x", x))
			}
			for _, b := range []*Bus{serial, e} {
				if _, err := b.Commit(ctx, ds); err != nil {
					t.Fatalf("round %d batch %d (%d deltas), %d workers: %v", round, k, n, b.applier.workers, err)
				}
			}
		}
		// Hashing settles the apply: only once a round, so that each
		// batch but the round's first is committed while the previous
		// one's apply waits.
		if got, want := hashOf(t, e), hashOf(t, serial); got != want {
			t.Fatalf("round %d: state hash %x, the one-worker bus %x", round, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if changed != 0 {
		t.Fatalf("%d records changed while their apply waited", changed)
	}
}

// holdUntilQueued returns a holdApplyWrites hook that keeps the helper
// from a batch until the committer has pushed the next one behind it (the
// queue is full) and a millisecond more (for the committer to finish that
// commit), or until someone waits for the drain (a read, a settle), or a
// second has passed: a test's next commit then surely finds the batch
// still waiting, whatever the machine's speed.
func holdUntilQueued(p *parallelApplier) func([]byte) {
	return func([]byte) {
		deadline := time.Now().Add(time.Second)
		for p.pending() < p.depth && !p.hurry.Load() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Microsecond)
		}
		if !p.hurry.Load() {
			time.Sleep(time.Millisecond)
		}
	}
}

// TestPipelinedApplyRingWrapWaits: a record that does not fit in the
// staging ring after the last one goes to the ring's start, over records
// applied long ago, unless a batch still waiting has its record there:
// then the committer waits for it first (canQueue). Here batch B's record
// fills the ring from a quarter to seven eighths and waits for the helper
// while batch C's, half the ring, is committed. Negative control (by
// hand): letting C wrap without waiting rewrites B's record before the
// helper reads it ("records changed", or a failed bus).
func TestPipelinedApplyRingWrapWaits(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariant builds apply every batch before Commit returns: nothing is queued (the default build runs this test)")
	}
	// No write history: batches this large would otherwise wait for the
	// one before them anyway, for the history ring (historyOverlaps).
	serial := openT(t, "", &Options{Clock: testClock(), Workers: 1, CheckpointBytes: -1, HistoryEntries: -1})
	e := openT(t, "", &Options{Clock: testClock(), Workers: 2, CheckpointBytes: -1, HistoryEntries: -1})
	const pages = 1024
	ids := mustCreate(t, e, pages, 64)
	mustCreate(t, serial, pages, 64)
	batch := func(k, n int) []delta.Delta {
		ds := make([]delta.Delta, n)
		for i := range ds {
			x := uint32(k*104729 + i*31)
			ds[i] = w(ids[x%pages], int(x%48), fmt.Sprintf("%08x", x))
		}
		return ds
	}
	commit := func(k, n int) {
		t.Helper()
		for _, b := range []*Bus{serial, e} {
			if _, err := b.Commit(ctx, batch(k, n)); err != nil {
				t.Fatalf("batch %d (%d deltas), %d workers: %v", k, n, b.applier.workers, err)
			}
		}
	}
	// A's record gives the bytes a delta takes.
	const ring = pipeRingBytes
	commit(0, 40000)
	e.LastLSN() // settles A
	perDelta := float64(e.applier.ringPos) / 40000
	commit(1, int((ring/4-float64(e.applier.ringPos))/perDelta)) // up to a quarter
	e.LastLSN()
	var changed atomic.Int32
	hold := holdUntilQueued(e.applier)
	e.applier.holdApplyWrites = func(rec []byte) {
		before := slices.Clone(rec)
		hold(rec)
		if !bytes.Equal(before, rec) {
			changed.Add(1)
		}
	}
	commit(2, int(ring*5/8/perDelta)) // B: [1/4, 7/8)
	commit(3, int(ring/2/perDelta))   // C: does not fit after B
	if got, want := hashOf(t, e), hashOf(t, serial); got != want {
		t.Fatalf("state hash %x, the one-worker bus %x", got, want)
	}
	if n := changed.Load(); n != 0 {
		t.Fatalf("%d records changed while their apply waited", n)
	}
	if len(e.applier.ring) != ring {
		t.Fatalf("the ring grew to %d bytes: the test's records no longer fit its plan", len(e.applier.ring))
	}
}

// TestPipelinedApplyRecordsHistory: a pipelined batch's write history is
// recorded by the helper that applies it; the ring must end up exactly as
// a one-worker bus's after every commit, including when a batch checked by
// the committer (a small one) would write ring slots that the helper's
// batch still writes (a ring of 256 entries, batches of up to 1,000; the
// race detector sees a missing settle there).
func TestPipelinedApplyRecordsHistory(t *testing.T) {
	// The helper records the history of the batch's head, the committer
	// that of its tail (stampSplit): every split, and the adaptive one.
	for _, share := range []int{-1, 0, 30, 64} {
		t.Run(fmt.Sprintf("share %d", share), func(t *testing.T) { testPipelinedApplyRecordsHistory(t, share) })
	}
}

func testPipelinedApplyRecordsHistory(t *testing.T, share int) {
	serial := openT(t, "", &Options{Clock: testClock(), Workers: 1, HistoryEntries: 256})
	e := openT(t, "", &Options{Clock: testClock(), Workers: 2, HistoryEntries: 256})
	ids := mustCreate(t, e, 97, 64)
	mustCreate(t, serial, 97, 64)
	e.applier.holdApplyWrites = holdUntilQueued(e.applier)
	e.applier.fixedShare = share
	batch := func(round, n int) []delta.Delta {
		ds := make([]delta.Delta, n)
		for i := range ds {
			id := ids[(i*7+round)%len(ids)]
			switch i % 5 {
			case 3: // masked: the helper's full decode
				ds[i] = delta.Delta{Page: id, Form: delta.FormMaskedDense, Mask: []byte{0x3c}, MaskLen: 8, Payload: bytes.Repeat([]byte{byte(i)}, 8)}
			case 4: // two runs
				ds[i] = delta.Delta{Page: id, Runs: []delta.Run{{Offset: 2, Data: []byte{byte(i)}}, {Offset: uint32(10 + i%40), Data: []byte{1, 2, 3}}}}
			default:
				ds[i] = w(id, i%50, fmt.Sprintf("r%d/%d", round, i))
			}
		}
		return ds
	}
	// Each round's batches are committed back to back (nothing settles in
	// between), then the rings are compared.
	for round, sizes := range [][]int{{600, 10}, {parallelMin, parallelMin, 5}, {1000, 300, 1}, {300, 300, 300}, {300, 300}, {100, 100, 100}} {
		for _, b := range []*Bus{serial, e} {
			for k, n := range sizes {
				if _, err := b.Commit(ctx, batch(round*10+k, n)); err != nil {
					t.Fatalf("round %d, %d workers: %v", round, b.applier.workers, err)
				}
			}
		}
		got, want := historyOf(e), historyOf(serial)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("round %d (batches of %v deltas): history slot %d is %+v, the one-worker bus's %+v", round, sizes, i, got[i], want[i])
			}
		}
	}
	if got, want := hashOf(t, e), hashOf(t, serial); got != want {
		t.Fatalf("state hash %x, the one-worker bus %x", got, want)
	}
}

// TestPipelinedApplyBadRecordFailsBus: a pipelined batch's record that
// the helper cannot decode (corrupted here, in the ring, before the helper
// reads it) must fail the bus rather than leave pages silently short of a
// logged batch: the next commit after the drain stopped fails (here a read
// waits for the drain first), or, while batches wait in the queue, the
// first commit that finds the queue full.
func TestPipelinedApplyBadRecordFailsBus(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariant builds apply every batch before Commit returns: no pipelined record to corrupt (the default build runs this test)")
	}
	for _, tc := range []struct {
		name    string
		corrupt func(rec []byte)
	}{
		{"unknown op", func(rec []byte) { rec[len(rec)-30] = 0xff }},
		{"truncated", func(rec []byte) { clear(rec[len(rec)-20:]) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openT(t, "", &Options{Clock: testClock(), Workers: 2})
			ids := mustCreate(t, e, 2*parallelMin, 64)
			ds := make([]delta.Delta, len(ids))
			for i, id := range ids {
				ds[i] = w(id, 8, "abcdefgh")
			}
			e.applier.holdApplyWrites = func(rec []byte) { tc.corrupt(rec) }
			e.applier.fixedShare = 64 // the helper decodes the whole record, its corrupted end too
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Fatalf("the commit itself: %v", err)
			}
			e.LastLSN() // waits for the drain
			_, err := e.Commit(ctx, ds)
			if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "pipelined apply") {
				t.Fatalf("the commit after a bad pipelined record: %v, want ErrFailed naming the pipelined apply", err)
			}
		})
	}
	t.Run("queued behind it", func(t *testing.T) {
		e := openT(t, "", &Options{Clock: testClock(), Workers: 2})
		ids := mustCreate(t, e, 2*parallelMin, 64)
		ds := make([]delta.Delta, len(ids))
		for i, id := range ids {
			ds[i] = w(id, 8, "abcdefgh")
		}
		release := make(chan struct{})
		first := true
		e.applier.holdApplyWrites = func(rec []byte) {
			if first {
				first = false
				<-release
				rec[len(rec)-30] = 0xff
			}
		}
		e.applier.fixedShare = 64
		var err error
		for k := 0; k <= pipeDepth+1 && err == nil; k++ {
			if k == 1 {
				close(release) // batch 0 fails once batch 1 waits behind it
			}
			_, err = e.Commit(ctx, ds)
		}
		if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "pipelined apply") {
			t.Fatalf("commits behind a bad pipelined record: %v, want ErrFailed naming the pipelined apply within %d commits", err, pipeDepth+1)
		}
		if _, err := e.Commit(ctx, ds); !errors.Is(err, ErrFailed) {
			t.Fatalf("a commit after the failure: %v, want ErrFailed", err)
		}
	})
}

// TestPipelinedApplyPropagates: batches applied by the pipeline mark their
// pages dirty, and propagation, which reads the parents' bytes, sees them:
// a two-worker bus ends every wave in the state of a one-worker bus.
func TestPipelinedApplyPropagates(t *testing.T) {
	const n = 2 * parallelMin
	var buses [2]*Bus
	var ids []PageID
	for i := range buses {
		buses[i] = openT(t, "", &Options{Clock: testClock(), Workers: i + 1})
		ids = mustCreate(t, buses[i], 2*n, 8)
		for k := 0; k < n; k++ {
			if err := buses[i].Bind(ctx, ids[n+k], "passthrough", nil, ids[k:k+1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for wave := 1; wave <= 3; wave++ {
		for _, e := range buses {
			ds := make([]delta.Delta, n)
			for k := range ds {
				b := make([]byte, 8)
				semiring.PutF64(b, 0, float64(wave*1000+k))
				ds[k] = delta.Delta{Page: ids[k], Runs: []delta.Run{{Data: b}}}
			}
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Fatal(err)
			}
			r, err := e.Propagate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Writes) != n {
				t.Fatalf("wave %d, %d workers: propagation wrote %d pages, want %d", wave, e.applier.workers, len(r.Writes), n)
			}
		}
		if got, want := hashOf(t, buses[1]), hashOf(t, buses[0]); got != want {
			t.Fatalf("wave %d: 2 workers state %x, 1 worker %x", wave, got, want)
		}
		b, _, err := buses[1].ReadPage(ids[2*n-1], nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := semiring.F64At(b, 0), float64(wave*1000+n-1); got != want {
			t.Fatalf("wave %d: derived page reads %v, want %v", wave, got, want)
		}
	}
}

// TestPipelinedApplyConcurrentReaders: one goroutine commits pipelined
// batches, each writing its batch number into every page, while others
// read pages, hash the state and take checkpoints. A reader that has seen
// a batch's LSN through LastLSN must then read that batch's number or a
// later one from every page: a read never misses a committed batch.
func TestPipelinedApplyConcurrentReaders(t *testing.T) {
	e := openT(t, "", &Options{Clock: testClock(), Workers: 2, CheckpointBytes: -1})
	const n = parallelMin + 64
	ids := mustCreate(t, e, n, 16)
	first := e.LastLSN()
	// Batch b (from 1) ends at LSN first + b*n.
	lsnBatch := func(lsn LSN) uint64 { return uint64(lsn-first) / n }
	const batches = 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				seen := lsnBatch(e.LastLSN())
				switch {
				case r == 2 && i%50 == 0:
					if _, err := e.Checkpoint(ctx); err != nil {
						errs <- err
						return
					}
				case r == 1 && i%10 == 0:
					if _, err := e.StateHash(); err != nil {
						errs <- err
						return
					}
				default:
					id := ids[(i*7+r)%n]
					b, _, err := e.ReadPage(id, nil)
					if err != nil {
						errs <- err
						return
					}
					if got := binary.LittleEndian.Uint64(b); got < seen {
						errs <- fmt.Errorf("page %d reads batch %d after LastLSN showed batch %d", id, got, seen)
						return
					}
				}
			}
		}(r)
	}
	ds := make([]delta.Delta, n)
	for b := uint64(1); b <= batches; b++ {
		for k, id := range ids {
			v := make([]byte, 8)
			binary.LittleEndian.PutUint64(v, b)
			ds[k] = delta.Delta{Page: id, Runs: []delta.Run{{Data: v}}}
		}
		if _, err := e.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep, err := e.VerifyReplay(ctx, false)
	if err != nil || !rep.Equal() {
		t.Fatalf("replay: %v %v", err, rep.Differences)
	}
}

// TestHelperParksWhenCommitsPause: a helper polls for the next batch only
// while commits come back to back (for at most twice the last gap between
// pushes, never over maxIdleSpin); once they pause it must end its drain
// and park, so that an idle bus burns no core (issue 15 item 4: the
// helpers used to poll 500 µs after every batch). Batches are committed
// back to back, then nothing: the helper must be parked, with no drain
// running, well within the test's generous bound. Negative control (by
// hand): a drain that polls until a push comes, whatever the time, fails
// it ("still polling").
func TestHelperParksWhenCommitsPause(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariant builds apply every batch before Commit returns: nothing is pipelined (the default build runs this test)")
	}
	e := openT(t, "", &Options{Clock: testClock(), Workers: 2, CheckpointBytes: -1})
	ids := mustCreate(t, e, 2*parallelMin, 64)
	ds := make([]delta.Delta, len(ids))
	for round := 0; round < 3; round++ {
		for k := 0; k < 20; k++ {
			for i, id := range ids {
				ds[i] = w(id, 8, fmt.Sprintf("%d.%d.%d", round, k, i))
			}
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Fatal(err)
			}
		}
		p := e.applier
		deadline := time.Now().Add(10 * time.Second)
		for p.active.Load() || !p.parked[1].Load() {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: 10 s after the last commit the helper is still polling (drain running %v, parked %v)", round, p.active.Load(), p.parked[1].Load())
			}
			time.Sleep(time.Millisecond)
		}
		if p.pending() != 0 {
			t.Fatalf("round %d: the helper parked with %d batches waiting", round, p.pending())
		}
	}
	for _, tc := range []struct {
		gap, want time.Duration
	}{
		{0, 0},
		{30 * time.Microsecond, 60 * time.Microsecond},
		{75 * time.Microsecond, maxIdleSpin},
		{maxIdleSpin, 0},
		{150 * time.Microsecond, 0},
		{time.Millisecond, 0},
	} {
		if got := idleSpin(tc.gap); got != tc.want {
			t.Errorf("idleSpin(%v) = %v, want %v", tc.gap, got, tc.want)
		}
	}
}
