package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestPropagateSteadyStateAllocs: once buffers have grown, a propagation
// wave over trivially recomputed pages allocates nothing.
func TestPropagateSteadyStateAllocs(t *testing.T) {
	e := openMem(t, &Options{HistoryEntries: -1, DisableLog: true})
	const n = 64
	ids := mustCreate(t, e, 2*n, 8)
	for i := 0; i < n; i++ {
		if err := e.Bind(ctx, ids[n+i], "passthrough", nil, ids[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	ds := make([]delta.Delta, n)
	buf := make([]byte, 8*n)
	v := 0.0
	step := func() {
		v++
		for i := range ds {
			semiring.PutF64(buf[8*i:], 0, v)
			ds[i] = delta.Delta{Page: ids[i], Runs: []delta.Run{{Data: buf[8*i : 8*i+8]}}}
		}
		if _, err := e.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	var r PropagateResult
	for i := 0; i < 3; i++ {
		step()
		if err := e.PropagateInto(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.Writes) != n {
		t.Fatalf("wave wrote %d pages, want %d", len(r.Writes), n)
	}
	allocs := testing.AllocsPerRun(20, func() {
		e.mu.Lock()
		for _, id := range ids[:n] {
			e.markDirty(id)
		}
		for i := range ids[:n] {
			sl, _ := e.store.Lookup(ids[i])
			semiring.PutF64(e.store.Bytes(sl), 0, v)
		}
		e.mu.Unlock()
		v++
		if err := e.PropagateInto(ctx, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("PropagateInto allocates %v times per wave in steady state", allocs)
	}
}

// BenchmarkPropagate: a wave over 10,000 derived pages of 8 bytes, each a
// passthrough of its own parent, every parent dirty and changed.
func BenchmarkPropagate(b *testing.B) {
	e, err := Open("", &Options{Clock: testClock(), CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const n = 10_000
	specs := make([]PageSpec, 2*n)
	for i := range specs {
		specs[i] = PageSpec{Size: 8}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := e.Bind(ctx, ids[n+i], "passthrough", nil, ids[i:i+1]); err != nil {
			b.Fatal(err)
		}
	}
	var r PropagateResult
	if err := e.PropagateInto(ctx, &r); err != nil {
		b.Fatal(err)
	}
	v := 0.0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		v++
		e.mu.Lock()
		for _, id := range ids[:n] {
			sl, _ := e.store.Lookup(id)
			semiring.PutF64(e.store.Bytes(sl), 0, v)
			e.markDirty(id)
		}
		e.mu.Unlock()
		b.StartTimer()
		if err := e.PropagateInto(ctx, &r); err != nil {
			b.Fatal(err)
		}
		if len(r.Writes) != n {
			b.Fatalf("wrote %d", len(r.Writes))
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

// TestImpureFunctionCannotChangeInputs pins issue 7 item 9 (recompute
// functions and live memory): a function that writes to its inputs, and
// keeps them to write again after it returned, changes neither its parent
// pages nor an earlier output of the same wave. Its inputs used to alias
// page memory under the write lock, so such a function changed state
// outside the log (the parent's bytes changed with no delta, epoch or LSN,
// and replay disagreed).
func TestImpureFunctionCannotChangeInputs(t *testing.T) {
	var kept [][]byte
	evil := func(inputs [][]byte, _ []byte, out []byte) error {
		copy(out, inputs[0])
		for _, in := range inputs {
			in[0] = 0xEE
		}
		kept = append(kept, inputs...)
		return nil
	}
	e := openMem(t, &Options{Functions: map[string]semiring.Func{"evil": evil}})
	ids := mustCreate(t, e, 3, 8)
	// a -> b -> c: c's input is b's output, computed earlier in the wave.
	if err := e.Bind(ctx, ids[1], "evil", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, ids[2], "evil", nil, ids[1:2]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Data: []byte("abcdefgh")}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, in := range kept { // after the wave, outside the lock
		in[1] = 0xEE
	}
	for i, want := range []string{"abcdefgh", "abcdefgh", "abcdefgh"} {
		got, epoch, err := e.ReadPage(ids[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want || epoch != 1 {
			t.Fatalf("page %d = %q at epoch %d, want %q at epoch 1: a recompute function changed state outside the log", ids[i], got, epoch, want)
		}
	}
	rep, err := e.VerifyReplay(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Equal() {
		t.Fatalf("replay differs from the live state: %v", rep.Differences)
	}
}

// TestPropagateLargeWaveReleasesScratch: after a wave over large derived
// pages the bus does not keep the wave's scratch (outputs, record, input
// copies), which once stayed allocated for the bus's life: 4 pages of
// 8 MiB kept 143 MB of heap.
func TestPropagateLargeWaveReleasesScratch(t *testing.T) {
	const n, size = 4, 8 << 20
	// No log: it would hold the wave's 32 MiB record, rightly.
	e := openMem(t, &Options{HistoryEntries: -1, DisableLog: true})
	ids := mustCreate(t, e, 2*n, size)
	for i := range n {
		if err := e.Bind(ctx, ids[n+i], "passthrough", nil, ids[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	full := make([]byte, size)
	for i := range full {
		full[i] = byte(i%251 + 1)
	}
	ds := make([]delta.Delta, n)
	for i := range ds {
		ds[i] = delta.Delta{Page: ids[i], Runs: []delta.Run{{Data: full}}}
	}
	if _, err := e.Commit(ctx, ds); err != nil {
		t.Fatal(err)
	}
	heapBefore := testutil.HeapAlloc()
	r, err := e.Propagate(ctx)
	if err != nil || len(r.Writes) != n {
		t.Fatalf("wave: %d writes, %v; want %d", len(r.Writes), err, n)
	}
	if grew := testutil.HeapAlloc() - heapBefore; grew > 16<<20 {
		t.Errorf("the bus holds %d more bytes of heap after the wave", grew)
	}
	got, _, err := e.ReadPage(ids[n], nil)
	if err != nil || string(got) != string(full) {
		t.Fatalf("derived page after the wave: %v (equal %v)", err, string(got) == string(full))
	}
}
