// Package metric holds the fixed-bucket histograms the bus records its
// latencies and sizes in: lock-free, allocation-free to observe, cheap
// enough for once per commit, fsync or checkpoint (never per delta).
// Exporters (package metrics) read snapshots; nothing here knows about
// Prometheus.
package metric

import (
	"math"
	"sync/atomic"
)

// Histogram counts integer observations (nanoseconds, bytes, records) into
// fixed buckets with inclusive upper bounds. Observe is safe from any
// number of goroutines. A snapshot taken while observations land may count
// an observation in its bucket but not yet in the sum: the buckets are
// always mutually consistent (the count is their total), the sum may lag by
// the observations in flight.
type Histogram struct {
	bounds []int64         // inclusive upper bounds, strictly ascending
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomic.Uint64   // sum of observations (negative ones count as 0)
	_      [0]func()       // not comparable: copy by pointer only
}

// New returns a histogram with the given inclusive upper bounds, which
// must be strictly ascending (it panics otherwise: bounds are constants
// of the program, never input).
func New(bounds []int64) *Histogram {
	for i := 1; i < len(bounds); i++ {
		if bounds[i] <= bounds[i-1] {
			panic("metric: histogram bounds not strictly ascending")
		}
	}
	return &Histogram{bounds: append([]int64(nil), bounds...), counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Exponential returns n bounds start, start*factor, start*factor², ...
// (factor >= 2), stopping early rather than overflowing.
func Exponential(start, factor int64, n int) []int64 {
	b := make([]int64, 0, n)
	for v := start; len(b) < n && v > 0; v *= factor {
		b = append(b, v)
		if v > math.MaxInt64/factor {
			break
		}
	}
	return b
}

// Observe records one value.
func (h *Histogram) Observe(v int64) {
	i := 0
	// Linear: at most a few dozen bounds, and the low buckets, where most
	// observations land, come first.
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	if v > 0 {
		h.sum.Add(uint64(v))
	}
}

// Snapshot is a histogram read at one moment, scaled to the exported unit.
type Snapshot struct {
	Bounds []float64 // inclusive upper bounds, ascending, in the exported unit
	Counts []uint64  // cumulative: Counts[i] observations were <= Bounds[i]
	Count  uint64    // all observations (the +Inf bucket)
	Sum    float64   // their sum, in the exported unit
}

// Snapshot reads the histogram, dividing bounds and sum by unit (1e9 turns
// nanoseconds into seconds; dividing keeps 1000/1e9 exactly 1e-6).
func (h *Histogram) Snapshot(unit float64) Snapshot {
	s := Snapshot{Bounds: make([]float64, len(h.bounds)), Counts: make([]uint64, len(h.bounds))}
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		s.Bounds[i] = float64(b) / unit
		s.Counts[i] = cum
	}
	s.Count = cum + h.counts[len(h.bounds)].Load()
	s.Sum = float64(h.sum.Load()) / unit
	return s
}
