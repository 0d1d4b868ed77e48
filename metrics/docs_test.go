package metrics

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

// TestMetricsPageNamesEveryMetric keeps docs/metrics.md and the collectors
// in step both ways: every metric a collector describes is named on the
// page, and every mmsb_ name on the page is one a collector describes.
func TestMetricsPageNamesEveryMetric(t *testing.T) {
	page, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	undocumented, stale := compareWithPage(describedNames(t), string(page))
	if len(undocumented) > 0 {
		t.Errorf("metrics not named in docs/metrics.md: %q", undocumented)
	}
	if len(stale) > 0 {
		t.Errorf("docs/metrics.md names metrics no collector describes: %q", stale)
	}
}

// TestMetricsPageCheckCatchesDrift is the negative control of
// TestMetricsPageNamesEveryMetric.
func TestMetricsPageCheckCatchesDrift(t *testing.T) {
	page := "| `mmsb_commits_total` | counter |\n| `mmsb_commits` | gone |\n`mmsb_rpc_` prefix\n"
	undocumented, stale := compareWithPage([]string{"mmsb_commits_total", "mmsb_deltas_total", "mmsb_rpc_requests_total"}, page)
	if want := []string{"mmsb_deltas_total", "mmsb_rpc_requests_total"}; !slices.Equal(undocumented, want) {
		t.Errorf("undocumented = %q, want %q", undocumented, want)
	}
	if want := []string{"mmsb_commits"}; !slices.Equal(stale, want) {
		t.Errorf("stale = %q, want %q", stale, want)
	}
}

var (
	// pageNameRE matches a metric name on the page; a name ending in _ is
	// a family prefix (mmsb_rpc_), not a metric.
	pageNameRE = regexp.MustCompile(`\bmmsb_[a-z0-9_]*[a-z0-9]\b`)
	// fqNameRE reads the name out of a Desc's String.
	fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)
)

// compareWithPage returns the described names the page does not name and
// the names the page writes that are not described, both sorted.
func compareWithPage(described []string, page string) (undocumented, stale []string) {
	onPage := pageNameRE.FindAllString(page, -1)
	for _, n := range described {
		if !slices.Contains(onPage, n) {
			undocumented = append(undocumented, n)
		}
	}
	for _, n := range onPage {
		if !slices.Contains(described, n) && !slices.Contains(stale, n) {
			stale = append(stale, n)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(stale)
	return undocumented, stale
}

// describedNames returns the names of every metric the package's
// collectors describe, sorted.
func describedNames(t *testing.T) []string {
	t.Helper()
	bus, err := mmsb.Open("", &mmsb.Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	o, err := tick.New(bus, &tick.Options{SkipStartupResync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var rec describeRecorder
	for _, c := range []prometheus.Collector{
		NewBusCollector(bus), NewTickCollector(o), NewBuildInfoCollector(),
		NewWatchCollector(func() WatchStats { return WatchStats{} }),
		NewReplicationCollector(func() ReplicationStats { return ReplicationStats{} }),
	} {
		rec.MustRegister(c)
	}
	if _, err := NewRPCMetrics(&rec); err != nil {
		t.Fatal(err)
	}
	slices.Sort(rec.names)
	if len(rec.names) < 20 {
		t.Fatalf("only %d metrics described: %q", len(rec.names), rec.names)
	}
	return slices.Compact(rec.names)
}

// describeRecorder is a prometheus.Registerer that keeps the names of
// what is registered with it.
type describeRecorder struct{ names []string }

func (r *describeRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		if m := fqNameRE.FindStringSubmatch(d.String()); m != nil {
			r.names = append(r.names, m[1])
		}
	}
	return nil
}

func (r *describeRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *describeRecorder) Unregister(prometheus.Collector) bool { return false }
