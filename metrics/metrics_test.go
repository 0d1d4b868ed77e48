package metrics

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

var ctx = context.Background()

// scrape renders reg as /metrics text (the exposition format a Prometheus
// server reads) and parses it back, so every test sees what a scraper sees.
func scrape(t *testing.T, reg prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	text := rec.Body.Bytes()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %q\n%s", rec.Code, rec.Header().Get("Content-Type"), text)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse /metrics text: %v\n%s", err, text)
	}
	return fams
}

// value returns the value of the only sample of a counter or gauge family
// (or the one whose labels match labelPairs "name=value").
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labelPairs ...string) float64 {
	t.Helper()
	m := sample(t, fams, name, labelPairs...)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("%s: no value", name)
	return 0
}

func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, labelPairs ...string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s missing from the scrape", name)
	}
	var found *dto.Metric
	for _, m := range f.Metric {
		if hasLabels(m, labelPairs) {
			if found != nil {
				t.Fatalf("%s%v: several samples", name, labelPairs)
			}
			found = m
		}
	}
	if found == nil {
		t.Fatalf("%s%v: no sample", name, labelPairs)
	}
	return found
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		ok := false
		for _, l := range m.Label {
			if l.GetName() == k && l.GetValue() == v {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// checkHistograms asserts, for every histogram in the scrape, that its
// buckets are ordered by bound and cumulative, and bounded by the count.
func checkHistograms(t *testing.T, fams map[string]*dto.MetricFamily) int {
	t.Helper()
	n := 0
	for name, f := range fams {
		if f.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for _, m := range f.Metric {
			if err := histogramOK(m.Histogram); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			n++
		}
	}
	return n
}

func histogramOK(h *dto.Histogram) error {
	b := h.Bucket
	if len(b) == 0 {
		return errors.New("no buckets")
	}
	for i := 1; i < len(b); i++ {
		if b[i].GetUpperBound() <= b[i-1].GetUpperBound() {
			return errors.New("bucket bounds not ascending")
		}
		if b[i].GetCumulativeCount() < b[i-1].GetCumulativeCount() {
			return errors.New("bucket counts not cumulative")
		}
	}
	if b[len(b)-1].GetCumulativeCount() > h.GetSampleCount() {
		return errors.New("last bucket exceeds the sample count")
	}
	return nil
}

func writes(ids []mmsb.PageID, n int, v byte) []mmsb.Delta {
	ds := make([]mmsb.Delta, n)
	for i := range ds {
		ds[i] = mmsb.Write(ids[i%len(ids)], uint32(i%32), []byte{v, byte(i)})
	}
	return ds
}

func TestBusCollectorMovesWithTheWork(t *testing.T) {
	bus, err := mmsb.Open(t.TempDir(), &mmsb.Options{Sync: mmsb.SyncGroup, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewBusCollector(bus), NewBuildInfoCollector())
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}, {Size: 64}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, ids[2], "passthrough", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	before := scrape(t, reg)

	const batches, per = 7, 100
	for b := 0; b < batches; b++ {
		if _, err := bus.Commit(ctx, writes(ids[:2], per, byte(b))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := bus.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := scrape(t, reg)

	moved := func(name string, labels ...string) float64 {
		return value(t, after, name, labels...) - value(t, before, name, labels...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mmsb_commits_total", nil, batches},
		{"mmsb_deltas_total", nil, batches * per},
		{"mmsb_commit_duration_seconds", []string{"sync=group"}, batches}, // observations
		{"mmsb_checkpoint_duration_seconds", nil, 1},
		{"mmsb_checkpoints_total", nil, 1},
		{"mmsb_checkpoint_failures_total", nil, 0},
		{"mmsb_pages_recomputed_total", nil, 1},
		{"mmsb_propagation_waves_computed_again_total", nil, 0},
		{"mmsb_committed_lsn", nil, float64(info.LSN - mmsb.LSN(value(t, before, "mmsb_committed_lsn")))},
	} {
		if got := moved(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"mmsb_log_bytes_total", "mmsb_log_logical_bytes_total", "mmsb_log_fsync_duration_seconds", "mmsb_log_group_commit_records"} {
		if moved(name) <= 0 {
			t.Errorf("%s did not move", name)
		}
	}
	if got := value(t, after, "mmsb_checkpoint_bytes"); got != float64(info.Bytes) {
		t.Errorf("mmsb_checkpoint_bytes = %v, checkpoint wrote %d", got, info.Bytes)
	}
	if got := value(t, after, "mmsb_checkpoint_last_lsn"); got != float64(info.LSN) {
		t.Errorf("mmsb_checkpoint_last_lsn = %v, want %d", got, info.LSN)
	}
	if value(t, after, "mmsb_pages") != 3 || value(t, after, "mmsb_page_bytes") != 3*64 || value(t, after, "mmsb_oldest_retained_lsn") != 1 {
		t.Errorf("pages %v, page bytes %v, oldest LSN %v", value(t, after, "mmsb_pages"),
			value(t, after, "mmsb_page_bytes"), value(t, after, "mmsb_oldest_retained_lsn"))
	}
	if n := checkHistograms(t, after); n != 4 {
		t.Errorf("%d histograms, want 4 (commit, fsync, group commit, checkpoint)", n)
	}
	fsync := sample(t, after, "mmsb_log_fsync_duration_seconds").Histogram
	if lo := fsync.Bucket[0].GetUpperBound(); lo != 20e-6 {
		t.Errorf("first fsync bucket %v s, want 20 µs", lo)
	}
	bi := sample(t, after, "mmsb_build_info", "goversion="+runtime.Version())
	if bi.Gauge.GetValue() != 1 {
		t.Errorf("mmsb_build_info = %v, want 1", bi.Gauge.GetValue())
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestBusCollectorCountsFailedCheckpoints(t *testing.T) {
	tog := errorfs.NewToggle(errorfs.OnPath("checkpoint", errorfs.OnKind(errorfs.OpCreate, errorfs.ErrInjected)))
	bus, err := mmsb.Open("/bus", &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewBusCollector(bus))
	if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	tog.On()
	if _, err := bus.Checkpoint(ctx); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("checkpoint under an injected create failure: %v", err)
	}
	tog.Off()
	fams := scrape(t, reg)
	if got := value(t, fams, "mmsb_checkpoint_failures_total"); got != 1 {
		t.Fatalf("mmsb_checkpoint_failures_total = %v, want 1", got)
	}
	if got := value(t, fams, "mmsb_checkpoint_duration_seconds"); got != 0 {
		t.Fatalf("a failed checkpoint was observed as a duration (%v)", got)
	}
	if _, err := bus.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	fams = scrape(t, reg)
	if value(t, fams, "mmsb_checkpoint_failures_total") != 1 || value(t, fams, "mmsb_checkpoints_total") != 1 {
		t.Fatalf("after a good checkpoint: failures %v, checkpoints %v",
			value(t, fams, "mmsb_checkpoint_failures_total"), value(t, fams, "mmsb_checkpoints_total"))
	}
}

func TestTickCollector(t *testing.T) {
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
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewTickCollector(o), NewBusCollector(bus))
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	const ticks = 3
	for i := 0; i < ticks; i++ {
		d := mmsb.Write(id, 0, []byte{byte(i)})
		if err := o.Submit(ctx, &d); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fams := scrape(t, reg)
	if got := value(t, fams, "mmsb_ticks_total"); got != ticks {
		t.Errorf("mmsb_ticks_total = %v, want %d", got, ticks)
	}
	if got := value(t, fams, "mmsb_tick_duration_seconds"); got != ticks {
		t.Errorf("mmsb_tick_duration_seconds count = %v, want %d", got, ticks)
	}
	if got := value(t, fams, "mmsb_tick_deltas_committed_total"); got != ticks {
		t.Errorf("mmsb_tick_deltas_committed_total = %v, want %d", got, ticks)
	}
	for p := tick.Phase(0); p < tick.NumPhases; p++ {
		if p == tick.PhaseTotal {
			continue
		}
		if got := value(t, fams, "mmsb_tick_phase_duration_seconds", "phase="+p.String()); got != ticks {
			t.Errorf("phase %v: %v observations, want %d", p, got, ticks)
		}
	}
	value(t, fams, "mmsb_tick_overruns_total")
	if n := checkHistograms(t, fams); n != 4+int(tick.NumPhases) {
		t.Errorf("%d histograms, want %d", n, 4+int(tick.NumPhases))
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestWatchCollector(t *testing.T) {
	s := WatchStats{Watchers: 5, Synced: 2, Slow: 1, Compacted: 3, PendingBatches: 40}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewWatchCollector(func() WatchStats { return s }))
	fams := scrape(t, reg)
	for name, want := range map[string]float64{"mmsb_watchers": 5, "mmsb_watchers_synced": 2, "mmsb_watch_slow_total": 1,
		"mmsb_watch_compacted_total": 3, "mmsb_watch_pending_batches": 40} {
		if got := value(t, fams, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	s.Slow, s.Watchers = 4, 0 // read again at the next scrape
	fams = scrape(t, reg)
	if value(t, fams, "mmsb_watch_slow_total") != 4 || value(t, fams, "mmsb_watchers") != 0 {
		t.Error("the watch collector did not re-read its stats")
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestReplicationCollector(t *testing.T) {
	s := ReplicationStats{AppliedLSN: 42, LagLSN: 3, HashMismatches: 1, Leader: true, LeaderChanges: 2,
		FencedPublishes: 5, RecordsPublished: 40, RecordsApplied: 7, StreamRetries: 9,
		PublishLatency: mmsb.Histogram{Bounds: []float64{0.001, 0.01}, Counts: []uint64{1, 3}, Count: 4, Sum: 2.5}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewReplicationCollector(func() ReplicationStats { return s }))
	fams := scrape(t, reg)
	for name, want := range map[string]float64{"mmsb_replication_applied_lsn": 42, "mmsb_replication_lag_lsn": 3,
		"mmsb_replication_hash_mismatch_total": 1, "mmsb_leader": 1, "mmsb_leader_changes_total": 2,
		"mmsb_replication_fenced_total": 5, "mmsb_replication_published_records_total": 40,
		"mmsb_replication_applied_records_total": 7, "mmsb_replication_stream_retries_total": 9} {
		if got := value(t, fams, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	h := fams["mmsb_replication_publish_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 4 || h.GetSampleSum() != 2.5 || h.GetBucket()[1].GetCumulativeCount() != 3 {
		t.Errorf("publish histogram: %v", h)
	}
	if err := histogramOK(h); err != nil {
		t.Error(err)
	}
	s.Leader = false // read again at the next scrape
	if value(t, scrape(t, reg), "mmsb_leader") != 0 {
		t.Error("the replication collector did not re-read its stats")
	}
	// A lag the follower could not refresh (the stream unreadable) is
	// NaN, not the stale last value.
	s.LagUnknown = true
	if got := value(t, scrape(t, reg), "mmsb_replication_lag_lsn"); !math.IsNaN(got) {
		t.Errorf("mmsb_replication_lag_lsn = %v with the lag unknown, want NaN", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// TestReplicationCollectorRefusesMalformedHistogram guards the scrape
// against a malformed histogram in the ReplicationStats a caller's
// function returns: the scrape reports an error naming the metric, and
// the other metrics still come through. Before, a Counts slice shorter
// than Bounds panicked inside Collect (index out of range; client_golang
// recovers it and reports a stack trace naming only the collector), and
// non-cumulative counts, descending bounds or a Count below a bucket were
// exported as they were, without an error.
func TestReplicationCollectorRefusesMalformedHistogram(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    mmsb.Histogram
	}{
		{"counts shorter than bounds", mmsb.Histogram{Bounds: []float64{0.001, 0.01}, Counts: []uint64{1}, Count: 1}},
		{"counts not cumulative", mmsb.Histogram{Bounds: []float64{0.001, 0.01}, Counts: []uint64{3, 1}, Count: 3}},
		{"bounds not ascending", mmsb.Histogram{Bounds: []float64{0.01, 0.001}, Counts: []uint64{1, 2}, Count: 2}},
		{"count below a bucket", mmsb.Histogram{Bounds: []float64{0.001}, Counts: []uint64{5}, Count: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(NewReplicationCollector(func() ReplicationStats {
				return ReplicationStats{AppliedLSN: 9, PublishLatency: tc.h}
			}))
			fams, err := reg.Gather()
			if err == nil || !strings.Contains(err.Error(), "mmsb_replication_publish_duration_seconds") ||
				!strings.Contains(err.Error(), ErrInvalidHistogram.Error()) {
				t.Fatalf("gather: got %v, want an error naming the histogram", err)
			}
			for _, f := range fams {
				if f.GetName() == "mmsb_replication_applied_lsn" {
					return
				}
			}
			t.Fatal("the other metrics were lost with the malformed histogram")
		})
	}
}
