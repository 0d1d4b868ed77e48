package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// Negative controls: the checks the tests above rely on (a pedantic
// registry, the linter, the histogram laws) do catch broken collectors.

// lyingCollector describes one metric and sends another: the defect a
// pedantic registry exists to catch.
type lyingCollector struct{ described, sent *prometheus.Desc }

func (c lyingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.described }
func (c lyingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.sent, prometheus.GaugeValue, 1, "x")
}

func TestNegativePedanticRegistryCatchesUndescribedMetric(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(lyingCollector{
		described: prometheus.NewDesc("mmsb_described", "Described.", nil, nil),
		sent:      prometheus.NewDesc("mmsb_sent", "Sent but never described.", []string{"label"}, nil),
	})
	_, err := reg.Gather()
	if err == nil || !strings.Contains(err.Error(), "mmsb_sent") {
		t.Fatalf("pedantic registry accepted a metric its collector never described: %v", err)
	}
}

// badlyNamed breaks the naming conventions the real collectors follow.
type badlyNamed struct{ d *prometheus.Desc }

func (c badlyNamed) Describe(ch chan<- *prometheus.Desc) { ch <- c.d }
func (c badlyNamed) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.d, prometheus.CounterValue, 1)
}

func TestNegativeLintCatchesBadNames(t *testing.T) {
	// A counter without _total, in milliseconds rather than base units.
	c := badlyNamed{prometheus.NewDesc("mmsb_commit_time_milliseconds", "Commit time.", nil, nil)}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) < 2 {
		t.Fatalf("lint found %d problems in a badly named counter, want at least 2 (no _total, not base units): %v", len(problems), problems)
	}
}

func TestNegativeHistogramLawsCatchBadBuckets(t *testing.T) {
	u := func(v float64) *float64 { return &v }
	n := func(v uint64) *uint64 { return &v }
	for name, h := range map[string]*dto.Histogram{
		"not cumulative": {SampleCount: n(5), Bucket: []*dto.Bucket{{UpperBound: u(1), CumulativeCount: n(3)}, {UpperBound: u(2), CumulativeCount: n(2)}}},
		"not ordered":    {SampleCount: n(5), Bucket: []*dto.Bucket{{UpperBound: u(2), CumulativeCount: n(1)}, {UpperBound: u(1), CumulativeCount: n(2)}}},
		"over count":     {SampleCount: n(1), Bucket: []*dto.Bucket{{UpperBound: u(1), CumulativeCount: n(2)}}},
		"no buckets":     {SampleCount: n(1)},
	} {
		if histogramOK(h) == nil {
			t.Errorf("%s: histogram accepted", name)
		}
	}
}
