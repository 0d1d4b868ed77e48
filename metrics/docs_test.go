package metrics

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/metric"
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

// TestMetricsPageTypesLabelsAndBuckets keeps the tables of docs/metrics.md
// true beyond the names: each row's type (counter, gauge, histogram), its
// label names, and for a histogram the first and last bucket bounds and
// the ×2 factor it states, against what a scrape of every collector
// exports.
func TestMetricsPageTypesLabelsAndBuckets(t *testing.T) {
	page, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := docRows(string(page))
	if len(rows) < 30 {
		t.Fatalf("only %d table rows found on docs/metrics.md", len(rows))
	}
	for _, p := range checkDocRows(rows, exportedFamilies(t)) {
		t.Error(p)
	}
}

// TestMetricsPageHasARowPerMetric: every metric a scrape of every collector
// exports has its row in a table of docs/metrics.md (name, type, labels,
// meaning), which TestMetricsPageTypesLabelsAndBuckets then checks; the
// replication metrics were named in prose only, their types in
// parentheses that no test read.
func TestMetricsPageHasARowPerMetric(t *testing.T) {
	page, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	if missing := rowlessFamilies(docRows(string(page)), exportedFamilies(t)); len(missing) > 0 {
		t.Errorf("metrics with no table row on docs/metrics.md: %q", missing)
	}
}

// TestMetricsPageRowlessCheckCatchesProse is the negative control of
// TestMetricsPageHasARowPerMetric: a metric named in prose only is
// reported, one with a row is not.
func TestMetricsPageRowlessCheckCatchesProse(t *testing.T) {
	page := "| Metric | Type | Meaning |\n|---|---|---|\n| `mmsb_leader` | gauge | x |\n\n" +
		"`mmsb_leader_changes_total` (counter) counts the changes.\n"
	fams := exportedFamilies(t)
	got := rowlessFamilies(docRows(page), map[string]*dto.MetricFamily{
		"mmsb_leader": fams["mmsb_leader"], "mmsb_leader_changes_total": fams["mmsb_leader_changes_total"]})
	if want := []string{"mmsb_leader_changes_total"}; !slices.Equal(got, want) {
		t.Errorf("rowless = %q, want %q", got, want)
	}
}

// rowlessFamilies returns the names of the families no row describes,
// sorted.
func rowlessFamilies(rows []docRow, fams map[string]*dto.MetricFamily) []string {
	var missing []string
	for name := range fams {
		if !slices.ContainsFunc(rows, func(r docRow) bool { return r.name == name }) {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	return missing
}

// TestMetricsPageRowCheckCatchesDrift is the negative control of
// TestMetricsPageTypesLabelsAndBuckets: a wrong type, a missing or extra
// label and a wrong bucket range are each reported.
func TestMetricsPageRowCheckCatchesDrift(t *testing.T) {
	page := "| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n" +
		"| `mmsb_commits_total` | gauge | — | x |\n" +
		"| `mmsb_commit_duration_seconds` | histogram, 2 µs … 8.4 s (×2) | — | x |\n" +
		"| `mmsb_rpc_requests_total` | counter | `procedure` (e.g. `/a`), `code` (`ok`), `extra` | x |\n" +
		"| `mmsb_log_fsync_duration_seconds` | histogram, 20 µs … 9 s (×2) | — | x |\n"
	problems := checkDocRows(docRows(page), exportedFamilies(t))
	for _, want := range []string{
		"mmsb_commits_total: documented as gauge, exported as counter",
		"mmsb_commit_duration_seconds: documented labels [], exported [sync]",
		"mmsb_commit_duration_seconds: first bucket documented as 2e-06, exported 1e-06",
		"mmsb_rpc_requests_total: documented labels [code extra procedure], exported [code procedure]",
		"mmsb_log_fsync_duration_seconds: last bucket documented as 9, exported 5.24288",
	} {
		if !slices.Contains(problems, want) {
			t.Errorf("drift not reported: %q (reported: %q)", want, problems)
		}
	}
}

// docRow is one row of a metrics table on the page.
type docRow struct {
	name, typ string
	labels    []string // nil when the table has no Labels column
	hasLabels bool
	buckets   string // "1 µs … 8.4 s (×2)", or "" (also for "same buckets": filled from the row above)
}

// docRows reads every table row that names an mmsb_ metric.
func docRows(page string) []docRow {
	var rows []docRow
	labelsCol := -1
	prevBuckets := ""
	for _, line := range strings.Split(page, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] == "Metric" {
			labelsCol = slices.Index(cells, "Labels")
			continue
		}
		if !strings.HasPrefix(cells[0], "`mmsb_") || len(cells) < 2 {
			continue
		}
		r := docRow{name: strings.Trim(cells[0], "`")}
		r.typ, _, _ = strings.Cut(cells[1], " ")
		r.typ = strings.TrimSuffix(r.typ, ",")
		if _, b, ok := strings.Cut(cells[1], ", "); ok {
			r.buckets = b
			if b == "same buckets" {
				r.buckets = prevBuckets
			}
			prevBuckets = r.buckets
		}
		if labelsCol > 0 && labelsCol < len(cells) {
			r.hasLabels = true
			r.labels = []string{}
			for _, m := range backtickRE.FindAllStringSubmatch(stripParens(cells[labelsCol]), -1) {
				r.labels = append(r.labels, m[1])
			}
			slices.Sort(r.labels)
		}
		rows = append(rows, r)
	}
	return rows
}

var (
	backtickRE = regexp.MustCompile("`([^`]+)`")
	// bucketsRE reads "FIRST [UNIT] … LAST [UNIT] (×2)".
	bucketsRE = regexp.MustCompile(`^([0-9.]+) ?(µs|ms|s)? … ([0-9.]+) ?(µs|ms|s)? \(×2\)$`)
)

// stripParens drops parenthesised text (label values and remarks), nested
// parentheses included.
func stripParens(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkDocRows compares the rows with the exported families and describes
// every difference.
func checkDocRows(rows []docRow, fams map[string]*dto.MetricFamily) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, r := range rows {
		f, ok := fams[r.name]
		if !ok {
			add("%s: documented but not exported by any collector", r.name)
			continue
		}
		if want := strings.ToLower(f.GetType().String()); r.typ != want {
			add("%s: documented as %s, exported as %s", r.name, r.typ, want)
		}
		var labels []string
		for _, l := range f.Metric[0].Label {
			labels = append(labels, l.GetName())
		}
		slices.Sort(labels)
		if r.hasLabels && !slices.Equal(r.labels, labels) {
			add("%s: documented labels %v, exported %v", r.name, r.labels, labels)
		}
		if f.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		m := bucketsRE.FindStringSubmatch(r.buckets)
		if m == nil {
			add("%s: bucket range %q not in the form \"1 µs … 8.4 s (×2)\"", r.name, r.buckets)
			continue
		}
		b := f.Metric[0].Histogram.Bucket
		if n := len(b); n > 0 && math.IsInf(b[n-1].GetUpperBound(), 1) {
			b = b[:n-1] // the text format's own +Inf bucket
		}
		first, last := b[0].GetUpperBound(), b[len(b)-1].GetUpperBound()
		if got := docValue(m[1], m[2]); !near(got, first) {
			add("%s: first bucket documented as %v, exported %v", r.name, got, first)
		}
		if got := docValue(m[3], m[4]); !near(got, last) {
			add("%s: last bucket documented as %v, exported %v", r.name, got, last)
		}
		for i := 1; i < len(b); i++ {
			if !near(b[i].GetUpperBound(), 2*b[i-1].GetUpperBound()) {
				add("%s: bucket %d is not twice the one before", r.name, i)
				break
			}
		}
	}
	return problems
}

func docValue(num, unit string) float64 {
	v, _ := strconv.ParseFloat(num, 64)
	return v * map[string]float64{"µs": 1e-6, "ms": 1e-3, "s": 1, "": 1}[unit]
}

// near: within 3 %, the rounding of "8.4 s" for 8.388608 s.
func near(a, b float64) bool { return math.Abs(a-b) <= 0.03*math.Abs(b) }

// exportedFamilies scrapes every collector of the package, with one RPC
// recorded so that the RPC families have a sample.
func exportedFamilies(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	bus, err := mmsb.Open("", &mmsb.Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	o, err := tick.New(bus, &tick.Options{SkipStartupResync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	// The publish histogram in the layout of internal/replicate's
	// publishBounds (which imports this package: a test here cannot
	// import it), so that its row's buckets are checked too.
	publish := metric.New(metric.Exponential(int64(20*time.Microsecond), 2, 20))
	publish.Observe(int64(time.Millisecond))
	rs := ReplicationStats{PublishLatency: mmsb.Histogram(publish.Snapshot(1e9))}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewBusCollector(bus), NewTickCollector(o), NewBuildInfoCollector(),
		NewWatchCollector(func() WatchStats { return WatchStats{} }),
		NewReplicationCollector(func() ReplicationStats { return rs }))
	ic, err := NewRPCMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	ic.(*rpcMetrics).observe("/test.v1.EchoService/Say", time.Now(), nil)
	return scrape(t, reg)
}
