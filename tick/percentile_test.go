package tick

import (
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/metric"
)

// Phase percentiles are by nearest rank: P99 of 50 ticks is the slowest
// (it was the second slowest), P50 of an even count the lower middle.
func TestPhasePercentileNearestRank(t *testing.T) {
	tests := []struct {
		n             int
		p50, p99, max time.Duration
	}{
		{1, 1, 1, 1},
		{2, 1, 2, 2},
		{50, 25, 50, 50},
		{100, 50, 99, 100},
		{1000, 500, 990, 1000},
	}
	for _, tc := range tests {
		r := reservoir{ring: make([]time.Duration, 1024), hist: metric.New(phaseBounds)}
		for i := tc.n; i >= 1; i-- { // added out of order
			r.add(time.Duration(i))
		}
		s, w := r.stats()
		percentiles(&s, w)
		if s.P50 != tc.p50 || s.P99 != tc.p99 || s.Max != tc.max {
			t.Errorf("n=%d: P50 %d, P99 %d, Max %d; want %d, %d, %d", tc.n, s.P50, s.P99, s.Max, tc.p50, tc.p99, tc.max)
		}
	}
}
