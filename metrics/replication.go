package metrics

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsb-go/mmsb"
)

// ReplicationStats are a replication node's counters and gauges, as the
// node reports them to NewReplicationCollector (see docs/replication.md).
type ReplicationStats struct {
	AppliedLSN       uint64 // last LSN applied (follower) or stored by the stream (leader)
	LagLSN           uint64 // the stream's last LSN minus the follower's applied LSN
	LagUnknown       bool   // the stream could not be read since LagLSN was refreshed: the lag is exported as NaN
	HashMismatches   uint64 // records after which the follower's rolling state hash differed
	Leader           bool   // this node holds the leader lease and commits
	LeaderChanges    uint64 // times this node became leader or stepped down
	FencedPublishes  uint64 // publishes the stream refused (expected-last-sequence fence)
	RecordsPublished uint64 // records published and acknowledged by the stream
	RecordsApplied   uint64 // records applied by this follower
	StreamRetries    uint64 // spells of following that lost the stream and started over
	WaitingForStream bool   // a follow-only node waits for its stream or buckets, which a leader makes: it has no bus meanwhile
	PublishLatency   mmsb.Histogram
}

// replicationCollector exports ReplicationStats read from a function.
type replicationCollector struct {
	stats func() ReplicationStats
	applied, lag, mismatches, leader, changes,
	fenced, published, appliedRecords, retries, waiting, publish *prometheus.Desc
}

// NewReplicationCollector returns a collector that calls stats at every
// scrape and exports mmsb_replication_applied_lsn, mmsb_replication_lag_lsn,
// mmsb_replication_hash_mismatch_total, mmsb_leader,
// mmsb_leader_changes_total, mmsb_replication_fenced_total,
// mmsb_replication_published_records_total,
// mmsb_replication_applied_records_total,
// mmsb_replication_stream_retries_total,
// mmsb_replication_waiting_for_stream and the histogram
// mmsb_replication_publish_duration_seconds. Like NewWatchCollector, it
// lets the replication node export itself without this package knowing it;
// stats must be cheap and safe from the scraping goroutine. A nil stats
// makes a collector that Register refuses (an error wrapping
// mmsb.ErrInvalidOption).
func NewReplicationCollector(stats func() ReplicationStats) prometheus.Collector {
	if stats == nil {
		return noSource("NewReplicationCollector of a nil stats function")
	}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc("mmsb_"+name, help, nil, nil) }
	return &replicationCollector{
		stats:          stats,
		applied:        d("replication_applied_lsn", "Last LSN applied (follower) or stored by the stream (leader)."),
		lag:            d("replication_lag_lsn", "The stream's last LSN minus the follower's applied LSN (NaN while the stream cannot be read)."),
		mismatches:     d("replication_hash_mismatch_total", "Records after which the follower's rolling state hash differed from the leader's."),
		leader:         d("leader", "1 while this node holds the leader lease and commits, else 0."),
		changes:        d("leader_changes_total", "Times this node became leader or stepped down."),
		fenced:         d("replication_fenced_total", "Publishes refused by the stream's expected-last-sequence fence."),
		published:      d("replication_published_records_total", "Records published and acknowledged by the stream."),
		appliedRecords: d("replication_applied_records_total", "Records applied by this follower."),
		retries:        d("replication_stream_retries_total", "Times this follower lost the stream (server unreachable, stream or consumer gone) and started over."),
		waiting:        d("replication_waiting_for_stream", "1 while this follow-only node waits for its stream or the buckets a leader makes beside it (it has no bus meanwhile), else 0."),
		publish:        d("replication_publish_duration_seconds", "Time from publishing a record to the stream's acknowledgement."),
	}
}

// Describe sends every metric's description.
func (c *replicationCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.applied, c.lag, c.mismatches, c.leader, c.changes, c.fenced, c.published, c.appliedRecords, c.retries, c.waiting, c.publish} {
		ch <- d
	}
}

// Collect calls the stats function once and sends its values.
func (c *replicationCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	leader := 0.0
	if s.Leader {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(c.applied, prometheus.GaugeValue, float64(s.AppliedLSN))
	lag := float64(s.LagLSN)
	if s.LagUnknown {
		lag = math.NaN() // a stale number must not read as the current lag
	}
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag)
	ch <- prometheus.MustNewConstMetric(c.mismatches, prometheus.CounterValue, float64(s.HashMismatches))
	ch <- prometheus.MustNewConstMetric(c.leader, prometheus.GaugeValue, leader)
	ch <- prometheus.MustNewConstMetric(c.changes, prometheus.CounterValue, float64(s.LeaderChanges))
	ch <- prometheus.MustNewConstMetric(c.fenced, prometheus.CounterValue, float64(s.FencedPublishes))
	ch <- prometheus.MustNewConstMetric(c.published, prometheus.CounterValue, float64(s.RecordsPublished))
	ch <- prometheus.MustNewConstMetric(c.appliedRecords, prometheus.CounterValue, float64(s.RecordsApplied))
	ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(s.StreamRetries))
	waiting := 0.0
	if s.WaitingForStream {
		waiting = 1
	}
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, waiting)
	ch <- constHistogram(c.publish, s.PublishLatency)
}
