package mmsb

import (
	"bytes"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/invariants"
)

// TestHugeBatchBuffersNotKept: the buffers a batch needs in proportion to
// its size are not kept for the bus's life after one huge batch, as the
// encoding buffer (maxKeptBuf) and the record offsets (maxKeptOffsets)
// already were not: the pipelined apply's staging ring (the size of the
// largest record pipelined, up to 256 MiB), the page slots of the batch,
// the parallel apply's per-shard indices (4 bytes a delta each: 90 MB
// after a batch of 10M deltas) and the parallel check's chunk buffers
// (the whole encoding, one buffer a chunk of 256 deltas). A batch of
// ordinary size reuses them.
func TestHugeBatchBuffersNotKept(t *testing.T) {
	if invariants.Enabled {
		t.Skip("invariant builds apply every batch before Commit returns: nothing is pipelined (the default build runs this test)")
	}
	// A pipelined batch whose record passes maxKeptRing, then an
	// ordinary one: the ring the first grew is let go, at the next settle
	// or at the next pipelined batch once the first is applied.
	for _, next := range []string{"settle", "pipelined batch"} {
		t.Run("ring/"+next, func(t *testing.T) {
			e := openT(t, "", &Options{Workers: 2, CheckpointBytes: -1})
			defer e.Close()
			size := maxKeptRing/parallelMin + 4096
			ids := mustCreate(t, e, parallelMin, size)
			data := bytes.Repeat([]byte{7}, size)
			ds := make([]delta.Delta, parallelMin)
			for i := range ds {
				ds[i] = delta.Delta{Page: ids[i], Runs: []delta.Run{{Data: data}}}
			}
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Fatal(err)
			}
			e.mu.RLock()
			grown, pushed := len(e.applier.ring), e.applier.pushed.Load()
			old := weak.Make(&e.applier.ring[0])
			e.mu.RUnlock()
			if pushed != 1 || grown <= maxKeptRing {
				t.Fatalf("the large batch: %d batches pipelined, ring of %d bytes; want 1, over %d", pushed, grown, maxKeptRing)
			}
			switch next {
			case "settle":
				e.lockSettled()
				e.mu.Unlock()
			case "pipelined batch":
				// Once the helper has applied the large batch, an ordinary
				// pipelined one takes a ring of the ordinary size.
				for deadline := time.Now().Add(livenessBound); e.applier.pending() != 0; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the large batch was never applied")
					}
				}
				small := make([]delta.Delta, parallelMin)
				for i := range small {
					small[i] = w(ids[i], 0, "small")
				}
				if _, err := e.Commit(ctx, small); err != nil {
					t.Fatal(err)
				}
			}
			e.mu.RLock() // not settled: the ring as the commit left it
			kept := len(e.applier.ring)
			e.mu.RUnlock()
			if kept > maxKeptRing {
				t.Fatalf("after the %s: a ring of %d bytes kept, want at most %d", next, kept, maxKeptRing)
			}
			// Nothing else keeps the large ring reachable (the pipeline's
			// entries and the helper's decoder pointed into it).
			for deadline := time.Now().Add(livenessBound); e.applier.pending() != 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the ordinary batch was never applied")
				}
			}
			for i := 0; old.Value() != nil; i++ {
				if i == 10 {
					t.Fatalf("after the %s and %d collections, the large ring is still reachable", next, i)
				}
				runtime.GC()
			}
			b, _, err := e.ReadPage(ids[parallelMin-1], nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := data[0]; b[len(b)-1] != want {
				t.Fatalf("page %d ends in %d, want %d", ids[parallelMin-1], b[len(b)-1], want)
			}
		})
	}
	// A batch of more than maxKeptOffsets deltas applied by the workers
	// without the pipeline (a Replicator keeps batches off it): its slots,
	// shard indices and chunk buffers go with it.
	t.Run("slots", func(t *testing.T) {
		e := openT(t, "", &Options{Workers: 2, CheckpointBytes: -1, Replicator: &fakeReplicator{}})
		defer e.Close()
		ids := mustCreate(t, e, 1025, 64)
		checked := ids[1024] // written only by the huge batch's last delta
		for _, n := range []int{parallelMin, maxKeptOffsets + 1} {
			ds := make([]delta.Delta, n)
			for i := range ds {
				ds[i] = w(ids[i%1024], i%60, "z")
			}
			if n > maxKeptOffsets {
				// Its last delta checks an epoch: the workers' check stops
				// there and the batch is checked again serially, which let
				// the chunk buffers go too.
				ds[n-1] = w(checked, 0, "z")
				ds[n-1].CheckEpoch, ds[n-1].ExpectEpoch = true, 0
			}
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Fatal(err)
			}
			e.lockSettled()
			slots, indices := cap(e.slots), 0
			for _, idx := range e.applier.shardIdx {
				indices += cap(idx)
			}
			chunks := len(e.applier.chunkBufs)
			pushed := e.applier.pushed.Load()
			e.mu.Unlock()
			if pushed != 0 {
				t.Fatalf("%d batches pipelined, want none (the parallel apply)", pushed)
			}
			if n <= maxKeptOffsets && (slots < n || indices < n || chunks != n/chunkDeltas) {
				t.Fatalf("a batch of %d deltas: room for %d slots, %d indices and %d chunks kept, want them kept for the next batch", n, slots, indices, chunks)
			}
			if n > maxKeptOffsets && (slots > maxKeptOffsets || indices != 0 || chunks != 0) {
				t.Fatalf("a batch of %d deltas: room for %d slots, %d indices and %d chunks kept, want at most %d and none", n, slots, indices, chunks, maxKeptOffsets)
			}
		}
	})
	// The parallel check's chunk buffers of a batch that encodes to more
	// than maxKeptBuf, none of them larger than it, go with the batch.
	t.Run("chunk bytes", func(t *testing.T) {
		e := openT(t, "", &Options{Workers: 2, CheckpointBytes: -1, Replicator: &fakeReplicator{}})
		defer e.Close()
		const n = 2 * chunkDeltas
		size := maxKeptBuf/n + 1024
		ids := mustCreate(t, e, n, size)
		data := bytes.Repeat([]byte{9}, size)
		ds := make([]delta.Delta, n)
		for i := range ds {
			ds[i] = delta.Delta{Page: ids[i], Runs: []delta.Run{{Data: data}}}
		}
		if _, err := e.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
		e.lockSettled()
		kept := 0
		for _, b := range e.applier.chunkBufs {
			kept += cap(b)
		}
		e.mu.Unlock()
		if kept > maxKeptBuf {
			t.Fatalf("a batch of %d deltas of %d bytes: %d bytes of chunk buffers kept, want at most %d", n, size, kept, maxKeptBuf)
		}
	})
}
