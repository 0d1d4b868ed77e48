package mmsb

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkCommitDuringWaves: commits of 100 deltas to plain pages while
// another goroutine writes the parents of 64 derived pages and propagates,
// over and over; each derived page's function does about 50 µs of work, so
// a wave takes a few milliseconds. It reports the commits' latency (p50,
// p99, max), the waves run per second and the share of them computed
// again. A bus that called the functions under its write lock made a
// commit wait for the rest of a running wave; now the waves only take the
// lock between calls.
//
// In hot-input, each commit also writes the parent of the first derived
// page, so nearly every wave goes stale: it is computed again under the
// lock, keeping the results whose inputs no commit wrote, and the commits
// wait for that one function (where the whole wave was computed again
// under the lock, they waited for the whole wave).
func BenchmarkCommitDuringWaves(b *testing.B) {
	b.Run("others", func(b *testing.B) { benchCommitDuringWaves(b, false) })
	b.Run("hot-input", func(b *testing.B) { benchCommitDuringWaves(b, true) })
}

func benchCommitDuringWaves(b *testing.B, hot bool) {
	slow := func(in [][]byte, _ []byte, out []byte) error {
		h := uint64(in[0][0])
		for k := 0; k < 50_000; k++ {
			h = h*6364136223846793005 + 1442695040888963407
		}
		copy(out, in[0])
		out[0] = byte(h >> 56)
		return nil
	}
	e, err := Open("", &Options{Clock: testClock(), CheckpointBytes: -1, Functions: map[string]RecomputeFunc{"slow": slow}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const derived, plain, size = 64, 1024, 64
	specs := make([]PageSpec, 2*derived+plain)
	for i := range specs {
		specs[i] = PageSpec{Size: size}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		b.Fatal(err)
	}
	parents, kids, others := ids[:derived], ids[derived:2*derived], ids[2*derived:]
	for i := range kids {
		if err := e.Bind(ctx, kids[i], "slow", nil, parents[i:i+1]); err != nil {
			b.Fatal(err)
		}
	}
	stop, done := make(chan struct{}), make(chan error, 1)
	var waves int
	go func() {
		ds := make([]Delta, derived)
		for v := byte(1); ; v++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			for i := range ds {
				ds[i] = Write(parents[i], 0, []byte{v})
			}
			if _, err := e.Commit(ctx, ds); err != nil {
				done <- err
				return
			}
			if _, err := e.Propagate(ctx); err != nil {
				done <- err
				return
			}
			waves++
		}
	}()
	ds := make([]Delta, 100)
	val := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for j := range ds {
			ds[j] = Write(others[(i*len(ds)+j)%plain], uint32(j%(size-8)), val)
		}
		if hot {
			ds[0] = Write(parents[0], 1, val)
		}
		t0 := time.Now()
		if _, err := e.Commit(ctx, ds); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
	b.ReportMetric(float64(waves)/elapsed.Seconds(), "waves/s")
	b.ReportMetric(float64(e.Metrics().WavesComputedAgain)/float64(max(waves, 1)), "again/wave")
}
