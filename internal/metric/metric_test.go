package metric

import (
	"sync"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	h := New([]int64{10, 20, 40})
	for _, v := range []int64{-5, 0, 10, 11, 20, 21, 40, 41, 1000} {
		h.Observe(v)
	}
	s := h.Snapshot(2)
	wantBounds := []float64{5, 10, 20}
	wantCounts := []uint64{3, 5, 7} // <=10: -5,0,10; <=20: +11,20; <=40: +21,40
	for i := range wantBounds {
		if s.Bounds[i] != wantBounds[i] || s.Counts[i] != wantCounts[i] {
			t.Fatalf("bucket %d: got (%v, %d), want (%v, %d)", i, s.Bounds[i], s.Counts[i], wantBounds[i], wantCounts[i])
		}
	}
	if s.Count != 9 {
		t.Fatalf("count %d, want 9", s.Count)
	}
	if want := float64(0+10+11+20+21+40+41+1000) * 0.5; s.Sum != want {
		t.Fatalf("sum %v, want %v", s.Sum, want)
	}
}

func TestHistogramConcurrent(t *testing.T) {
	h := New(Exponential(1, 2, 10))
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < 1000; i++ {
				h.Observe(i)
			}
		}()
	}
	wg.Wait()
	s := h.Snapshot(1)
	if s.Count != 4000 || s.Sum != 4*999*1000/2 {
		t.Fatalf("count %d sum %v", s.Count, s.Sum)
	}
	for i := 1; i < len(s.Counts); i++ {
		if s.Counts[i] < s.Counts[i-1] {
			t.Fatalf("counts not cumulative: %v", s.Counts)
		}
	}
}

func TestExponential(t *testing.T) {
	b := Exponential(20_000, 2, 4)
	want := []int64{20_000, 40_000, 80_000, 160_000}
	for i := range want {
		if b[i] != want[i] {
			t.Fatalf("bounds %v, want %v", b, want)
		}
	}
	if got := Exponential(1<<62, 2, 10); len(got) != 1 {
		t.Fatalf("overflow not stopped: %v", got)
	}
}

func TestNewRejectsUnorderedBounds(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("unordered bounds accepted")
		}
	}()
	New([]int64{1, 1})
}

func TestObserveAllocFree(t *testing.T) {
	h := New(Exponential(1, 2, 20))
	if n := testing.AllocsPerRun(100, func() { h.Observe(12345) }); n != 0 {
		t.Fatalf("Observe allocates %v times", n)
	}
}

// BenchmarkObserve is what a commit pays for its duration: two clock
// reads and one Observe.
func BenchmarkObserve(b *testing.B) {
	h := New(Exponential(1000, 2, 24))
	for b.Loop() {
		start := time.Now()
		h.Observe(int64(time.Since(start)))
	}
}
