package harness

import (
	"testing"
	"time"
)

// TestPercentileNearestRank pins percentile's definition, nearest rank:
// the p-th percentile of n sorted samples is the sample of rank
// ceil(p·n/100) (1-based), so p99 of 50 samples is the maximum (rank 50),
// not the second highest. It used (n−1)·p/100 rounded down, which gave
// rank 49 of 50.
func TestPercentileNearestRank(t *testing.T) {
	tests := []struct {
		n, p, rank int // rank: 1-based, of samples valued 1..n
	}{
		{1, 50, 1}, {1, 99, 1}, {1, 100, 1},
		{2, 50, 1}, {2, 99, 2}, {2, 100, 2},
		{50, 50, 25}, {50, 99, 50}, {50, 100, 50},
		{100, 50, 50}, {100, 99, 99}, {100, 100, 100},
		{1000, 50, 500}, {1000, 99, 990}, {1000, 100, 1000},
		{1000, 1, 10}, {1000, 0, 1}, {3, 50, 2},
	}
	for _, tc := range tests {
		sorted := make([]time.Duration, tc.n)
		for i := range sorted {
			sorted[i] = time.Duration(i + 1)
		}
		if got := percentile(sorted, tc.p); got != time.Duration(tc.rank) {
			t.Errorf("percentile(n=%d, p=%d) = sample of rank %d, want rank %d", tc.n, tc.p, got, tc.rank)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("percentile of no samples = %v, want 0", got)
	}
}
