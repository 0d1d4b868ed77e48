package metrics

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mmsb-go/mmsb"
)

// TestMetricsBadInput feeds the constructors and collectors what a caller
// may pass them wrongly. Each case must end without a panic, with an error
// wrapping the sentinel it names and saying what was wrong: at Register
// for a collector without a source, at the scrape of the one metric for a
// malformed histogram. What a case saw before its fix is in its comment;
// the others passed already and guard the checks that were there.
func TestMetricsBadInput(t *testing.T) {
	register := func(c prometheus.Collector) error {
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(c); err != nil {
			return err
		}
		_, err := reg.Gather()
		return err
	}
	// collect scrapes c without registering it, as testutil does.
	collect := func(c prometheus.Collector) error {
		_, err := testutil.CollectAndLint(c)
		return err
	}
	histogram := func(h mmsb.Histogram) func() error {
		return func() error {
			return register(NewReplicationCollector(func() ReplicationStats { return ReplicationStats{PublishLatency: h} }))
		}
	}
	cases := []struct {
		name string
		call func() error
		want error
		says string
	}{
		// Before: Register accepted it and every scrape panicked (nil bus).
		{"NewBusCollector of a nil bus", func() error { return register(NewBusCollector(nil)) }, mmsb.ErrInvalidOption, "NewBusCollector of a nil bus"},
		// Before: the scrape panicked (nil bus).
		{"NewBusCollector of a nil bus, collected unregistered", func() error { return collect(NewBusCollector(nil)) }, mmsb.ErrInvalidOption, "nil bus"},
		{"NewBusMetricsCollector of a nil function", func() error { return register(NewBusMetricsCollector(nil)) }, mmsb.ErrInvalidOption, "NewBusMetricsCollector of a nil metrics function"},
		// Before: Register accepted it and every scrape panicked (nil orchestrator).
		{"NewTickCollector of a nil orchestrator", func() error { return register(NewTickCollector(nil)) }, mmsb.ErrInvalidOption, "NewTickCollector of a nil orchestrator"},
		// Before: Register accepted it and every scrape panicked (nil function).
		{"NewWatchCollector of a nil function", func() error { return register(NewWatchCollector(nil)) }, mmsb.ErrInvalidOption, "NewWatchCollector of a nil stats function"},
		// Before: Register accepted it and every scrape panicked (nil function).
		{"NewReplicationCollector of a nil function", func() error { return register(NewReplicationCollector(nil)) }, mmsb.ErrInvalidOption, "NewReplicationCollector of a nil stats function"},
		// Before: the scrape panicked (nil function).
		{"NewReplicationCollector of a nil function, collected unregistered", func() error { return collect(NewReplicationCollector(nil)) }, mmsb.ErrInvalidOption, "nil stats function"},
		// Before: panicked calling Register on the nil registerer.
		{"NewRPCMetrics of a nil registerer", func() error { _, err := NewRPCMetrics(nil); return err }, mmsb.ErrInvalidOption, "nil registerer"},
		{"NewRPCMetrics twice in one registry", func() error {
			reg := prometheus.NewRegistry()
			if _, err := NewRPCMetrics(reg); err != nil {
				return err
			}
			_, err := NewRPCMetrics(reg)
			return err
		}, prometheus.AlreadyRegisteredError{}, "duplicate"},
		{"histogram with counts shorter than bounds", histogram(mmsb.Histogram{Bounds: []float64{1, 2}, Counts: []uint64{1}, Count: 1}), ErrInvalidHistogram, "1 counts for 2 bounds"},
		{"histogram with a NaN bound", histogram(mmsb.Histogram{Bounds: []float64{math.NaN()}, Counts: []uint64{1}, Count: 1}), ErrInvalidHistogram, "bound 0"},
		// Before: exported as is, its le="+Inf" bucket (2) disagreeing with its _count (3).
		{"histogram with a +Inf bound", histogram(mmsb.Histogram{Bounds: []float64{1, math.Inf(1)}, Counts: []uint64{1, 2}, Count: 3}), ErrInvalidHistogram, "bound 1 (+Inf)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := func() (err error) {
				defer func() {
					if v := recover(); v != nil {
						err = fmt.Errorf("panic: %v", v)
					}
				}()
				return tc.call()
			}()
			var already prometheus.AlreadyRegisteredError
			ok := errors.Is(err, tc.want) || errors.As(err, &already) && errors.As(tc.want, &already)
			if !ok || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("want an error wrapping %v saying %q, got %v", tc.want, tc.says, err)
			}
		})
	}
}
