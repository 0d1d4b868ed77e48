package tick

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/delta"
)

// ringDelta is producer p's k-th delta: page p+1, its run the counter k
// and how many deltas of its batch follow it.
func ringDelta(p, k, after int) delta.Delta {
	data := binary.LittleEndian.AppendUint64(nil, uint64(k))
	data = binary.LittleEndian.AppendUint64(data, uint64(after))
	return delta.Delta{Page: delta.PageID(p + 1), Runs: []delta.Run{{Data: data}}}
}

func ringCounter(d *delta.Delta) int { return int(binary.LittleEndian.Uint64(d.Runs[0].Data)) }

func ringAfter(d *delta.Delta) int { return int(binary.LittleEndian.Uint64(d.Runs[0].Data[8:])) }

// TestIntakeRingMatchesAFIFO: through hundreds of laps of a ring of 8
// cells, batches of 1-8 deltas are accepted exactly when the FIFO model has
// room for the whole batch, and drains give back what the model does, in
// order. A new ring starts from zeroed cells (its sequence words are kept
// relative to the cell's index), so laps past the first are where a wrong
// lap base would show.
func TestIntakeRingMatchesAFIFO(t *testing.T) {
	const capacity = 8
	q := newIntakeQueue(capacity, math.MaxInt)
	rng := rand.New(rand.NewPCG(3, 4))
	var model []int
	next, pushed := 0, 0
	var b intakeBatch
	for step := 0; step < 20000; step++ {
		if rng.IntN(2) == 0 {
			k := 1 + rng.IntN(capacity)
			ds := make([]delta.Delta, k)
			for i := range ds {
				ds[i] = ringDelta(0, next+i, k-1-i)
			}
			ok := q.tryPush(ds, rng.IntN(2) == 0, 0)
			if want := len(model)+k <= capacity; ok != want {
				t.Fatalf("step %d: push of %d with %d queued of %d accepted %v, want %v", step, k, len(model), capacity, ok, want)
			}
			if ok {
				for i := 0; i < k; i++ {
					model = append(model, next+i)
				}
				next += k
				pushed++
			}
			continue
		}
		limit := 1 + rng.IntN(capacity+2)
		b.reset()
		n := q.drain(&b, limit)
		if want := min(limit, len(model)); n != want {
			t.Fatalf("step %d: drained %d of %d queued (limit %d), want %d", step, n, len(model), limit, want)
		}
		for i := 0; i < n; i++ {
			if got := ringCounter(&b.ds[i]); got != model[i] {
				t.Fatalf("step %d: drained delta %d has counter %d, want %d", step, i, got, model[i])
			}
		}
		model = model[n:]
		if q.Len() != len(model) {
			t.Fatalf("step %d: Len %d, want %d", step, q.Len(), len(model))
		}
	}
	if laps := next / capacity; laps < 100 {
		t.Fatalf("only %d laps of the ring in %d pushes: the test did not wrap it enough", laps, pushed)
	}
}

// TestIntakeRingConcurrentProducers: four producers push batches of 1-3
// deltas through a ring of 8 cells, waiting when it is full, while one
// consumer drains; every delta arrives once, each producer's in order, and
// a batch's deltas contiguous.
func TestIntakeRingConcurrentProducers(t *testing.T) {
	const producers, each = 4, 3000
	q := newIntakeQueue(8, math.MaxInt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(p), 9))
			for k := 0; k < each; {
				n := min(1+rng.IntN(3), each-k)
				ds := make([]delta.Delta, n)
				for i := range ds {
					ds[i] = ringDelta(p, k+i, n-1-i)
				}
				if err := q.push(ctx, ds, true, 0, false); err != nil {
					t.Errorf("producer %d at %d: %v", p, k, err)
					return
				}
				k += n
			}
		}()
	}
	seen := make([]int, producers)
	batchOf, left := 0, 0 // the producer whose batch is being drained, and how many of it are still to come
	var b intakeBatch
	for total := 0; total < producers*each; {
		if ctx.Err() != nil {
			t.Fatalf("drained %d of %d deltas before the deadline; per producer %v", total, producers*each, seen)
		}
		b.reset()
		n := q.drain(&b, 5)
		for i := 0; i < n; i++ {
			d := &b.ds[i]
			p := int(d.Page) - 1
			if got := ringCounter(d); got != seen[p] {
				t.Fatalf("producer %d: delta %d arrived where %d was next", p, got, seen[p])
			}
			if left > 0 && p != batchOf {
				t.Fatalf("producer %d's delta %d arrived inside producer %d's batch (%d of it still to come)", p, seen[p], batchOf, left)
			}
			if left > 0 {
				left--
			} else {
				batchOf, left = p, ringAfter(d)
			}
			seen[p]++
		}
		total += n
	}
	wg.Wait()
	b.reset()
	if n := q.drain(&b, 100); n != 0 {
		t.Fatalf("%d deltas left after every producer's arrived", n)
	}
}
