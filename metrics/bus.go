package metrics

import (
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsb-go/mmsb"
)

// busCollector exports a Metrics snapshot: one bus's, or what a function
// returns (NewBusMetricsCollector).
type busCollector struct {
	read func() (mmsb.Metrics, bool)

	commits, deltas                                   *prometheus.Desc
	commitDuration                                    *prometheus.Desc
	fsyncDuration, logBytes, logLogical, groupRecords *prometheus.Desc
	checkpoints, ckptFailures, ckptDuration           *prometheus.Desc
	ckptBytes, ckptLastLSN                            *prometheus.Desc
	committedLSN, durableLSN, oldestLSN               *prometheus.Desc
	pages, pageBytes, recomputed, wavesAgain          *prometheus.Desc
}

// NewBusCollector returns a collector of bus's metrics (mmsb.Bus.Metrics),
// read at every scrape. Register it in the embedding program's registry.
// To export several buses into one registry, give each its own labels:
//
//	prometheus.WrapRegistererWith(prometheus.Labels{"bus": "orders"}, reg).MustRegister(metrics.NewBusCollector(b))
//
// A closed bus keeps reporting its final values. A nil bus makes a
// collector that Register refuses (an error wrapping mmsb.ErrInvalidOption).
func NewBusCollector(bus *mmsb.Bus) prometheus.Collector {
	if bus == nil {
		return noSource("NewBusCollector of a nil bus")
	}
	return newBusCollector(func() (mmsb.Metrics, bool) { return bus.Metrics(), true })
}

// NewBusMetricsCollector returns a collector that exports what metrics
// returns at every scrape, under the names, types and help that
// NewBusCollector gives a bus's metrics; when it returns false, the scrape
// has none of them. It is for a program that serves one bus after another
// under one registry, as 'mmsb serve --replicate' reopens its bus at each
// role change: metrics adds the counters and histograms of the buses
// before to the current bus's, so that they never go down while the
// process runs (Prometheus reads a counter that goes down as a restart).
// metrics must be safe to call from the scraping goroutine. A nil metrics
// makes a collector that Register refuses (an error wrapping
// mmsb.ErrInvalidOption).
func NewBusMetricsCollector(metrics func() (mmsb.Metrics, bool)) prometheus.Collector {
	if metrics == nil {
		return noSource("NewBusMetricsCollector of a nil metrics function")
	}
	return newBusCollector(metrics)
}

func newBusCollector(read func() (mmsb.Metrics, bool)) *busCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("mmsb_"+name, help, labels, nil)
	}
	return &busCollector{
		read:           read,
		commits:        d("commits_total", "Delta batches committed (Commit and CommitAsync)."),
		deltas:         d("deltas_total", "Deltas committed, in all batches."),
		commitDuration: d("commit_duration_seconds", "Time per successful synchronous Commit, from the call until durable per the sync mode.", "sync"),
		fsyncDuration:  d("log_fsync_duration_seconds", "Time per fsync of a log segment."),
		logBytes:       d("log_bytes_total", "Bytes written to log segments (frames and segment headers)."),
		logLogical:     d("log_logical_bytes_total", "Encoded operations appended to the log, before framing."),
		groupRecords:   d("log_group_commit_records", "Log records per write call (the size of a commit group under sync=group)."),
		checkpoints:    d("checkpoints_total", "Successful checkpoints."),
		ckptFailures:   d("checkpoint_failures_total", "Failed checkpoints (automatic or explicit)."),
		ckptDuration:   d("checkpoint_duration_seconds", "Time per successful checkpoint."),
		ckptBytes:      d("checkpoint_bytes", "Size of the newest checkpoint file written since the bus opened (0 if none)."),
		ckptLastLSN:    d("checkpoint_last_lsn", "LSN the newest checkpoint covers (0 if none)."),
		committedLSN:   d("committed_lsn", "Last LSN logged and applied."),
		durableLSN:     d("durable_lsn", "Last LSN covered by a completed fsync."),
		oldestLSN:      d("oldest_retained_lsn", "First LSN still in the log, readable by log queries and watches (0 if the log is empty)."),
		pages:          d("pages", "Live pages."),
		pageBytes:      d("page_bytes", "Sum of the live pages' sizes."),
		recomputed:     d("pages_recomputed_total", "Derived pages recomputed by propagation (recompute function calls)."),
		wavesAgain:     d("propagation_waves_computed_again_total", "Propagation waves computed a second time, under the bus's lock, because what they read changed while their functions ran."),
	}
}

func (c *busCollector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{c.commits, c.deltas, c.commitDuration, c.fsyncDuration, c.logBytes, c.logLogical,
		c.groupRecords, c.checkpoints, c.ckptFailures, c.ckptDuration, c.ckptBytes, c.ckptLastLSN,
		c.committedLSN, c.durableLSN, c.oldestLSN, c.pages, c.pageBytes, c.recomputed, c.wavesAgain}
}

// Describe sends every metric's description.
func (c *busCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// Collect reads the metrics once and sends them (none without a source).
func (c *busCollector) Collect(ch chan<- prometheus.Metric) {
	m, ok := c.read()
	if !ok {
		return
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(c.commits, m.Commits)
	counter(c.deltas, m.Deltas)
	ch <- constHistogram(c.commitDuration, m.CommitDuration, m.SyncMode)
	ch <- constHistogram(c.fsyncDuration, m.LogFsyncDuration)
	counter(c.logBytes, m.LogBytes)
	counter(c.logLogical, m.LogLogicalBytes)
	ch <- constHistogram(c.groupRecords, m.LogGroupCommitRecords)
	counter(c.checkpoints, m.Checkpoints)
	counter(c.ckptFailures, m.CheckpointFailures)
	ch <- constHistogram(c.ckptDuration, m.CheckpointDuration)
	gauge(c.ckptBytes, float64(m.CheckpointBytes))
	gauge(c.ckptLastLSN, float64(m.CheckpointLastLSN))
	gauge(c.committedLSN, float64(m.CommittedLSN))
	gauge(c.durableLSN, float64(m.DurableLSN))
	gauge(c.oldestLSN, float64(m.OldestRetainedLSN))
	gauge(c.pages, float64(m.Pages))
	gauge(c.pageBytes, float64(m.PageBytes))
	counter(c.recomputed, m.PagesRecomputed)
	counter(c.wavesAgain, m.WavesComputedAgain)
}

// noSource is the collector a constructor returns when given nothing to
// read: Register refuses it with an error wrapping mmsb.ErrInvalidOption
// that names the constructor, and a scrape without registering reports the
// same error. Before, Register accepted such a collector and every scrape
// panicked on the nil bus, orchestrator or function (TestMetricsBadInput).
type noSourceCollector struct{ desc *prometheus.Desc }

func noSource(what string) prometheus.Collector {
	return noSourceCollector{prometheus.NewInvalidDesc(fmt.Errorf("%w: metrics: %s", mmsb.ErrInvalidOption, what))}
}

// Describe sends the invalid description, which makes Register fail.
func (c noSourceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect sends an invalid metric, which makes the scrape fail.
func (c noSourceCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, c.desc.Err())
}

// ErrInvalidHistogram is what a scrape reports, for that one metric, when
// a histogram handed to a collector breaks the laws of mmsb.Histogram:
// as many counts as bounds, bounds strictly ascending, counts cumulative
// and at most Count, and a +Inf bound (if any) counting all Count
// observations.
var ErrInvalidHistogram = errors.New("metrics: invalid histogram")

// constHistogram turns a snapshot into a Prometheus histogram. Its
// cumulative counts are exactly what Prometheus's buckets hold. A
// malformed snapshot (the replication collector exports one its caller
// built) becomes an invalid metric that fails the scrape of it alone,
// naming it: before, short Counts panicked inside Collect and
// non-cumulative ones were exported as they were, a histogram no query can
// make sense of.
func constHistogram(d *prometheus.Desc, h mmsb.Histogram, labels ...string) prometheus.Metric {
	if err := checkHistogram(h); err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b] = h.Counts[i]
	}
	m, err := prometheus.NewConstHistogram(d, h.Count, h.Sum, buckets, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

// checkHistogram checks the laws of mmsb.Histogram.
func checkHistogram(h mmsb.Histogram) error {
	if len(h.Counts) != len(h.Bounds) {
		return fmt.Errorf("%w: %d counts for %d bounds", ErrInvalidHistogram, len(h.Counts), len(h.Bounds))
	}
	for i := range h.Bounds {
		if math.IsNaN(h.Bounds[i]) || i > 0 && h.Bounds[i] <= h.Bounds[i-1] {
			return fmt.Errorf("%w: bound %d (%v) not above the one before", ErrInvalidHistogram, i, h.Bounds[i])
		}
		if math.IsInf(h.Bounds[i], 1) && h.Counts[i] != h.Count {
			// Prometheus's +Inf bucket is Count: exported as is, the
			// exposition's le="+Inf" bucket disagreed with its _count.
			return fmt.Errorf("%w: bound %d (+Inf) counts %d, not Count %d", ErrInvalidHistogram, i, h.Counts[i], h.Count)
		}
		if i > 0 && h.Counts[i] < h.Counts[i-1] {
			return fmt.Errorf("%w: count %d (%d) below the one before: counts are cumulative", ErrInvalidHistogram, i, h.Counts[i])
		}
	}
	if n := len(h.Counts); n > 0 && h.Count < h.Counts[n-1] {
		return fmt.Errorf("%w: Count %d below the last bucket's %d", ErrInvalidHistogram, h.Count, h.Counts[n-1])
	}
	return nil
}
