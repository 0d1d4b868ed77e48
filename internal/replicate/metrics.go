package replicate

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/metric"
	"github.com/mmsb-go/mmsb/metrics"
)

// Metrics are the replication counters and gauges of one node, plain
// values that an exporter reads with Stats (metrics.NewReplicationCollector
// exports them to Prometheus; names in the comments, in base units).
type Metrics struct {
	AppliedLSN       atomic.Uint64 // mmsb_replication_applied_lsn: last LSN applied (follower) or stored (leader)
	LagLSN           atomic.Uint64 // mmsb_replication_lag_lsn: stream's last LSN minus the applied LSN (follower)
	LagUnknown       atomic.Bool   // the follower could not read the stream since LagLSN was refreshed: lag_lsn=unknown, mmsb_replication_lag_lsn NaN (a stale number read as current)
	HashMismatches   atomic.Uint64 // mmsb_replication_hash_mismatch_total
	Leader           atomic.Uint64 // mmsb_leader: 1 while this node leads, else 0
	LeaderChanges    atomic.Uint64 // mmsb_leader_changes_total: times this node became or stopped being leader
	FencedPublishes  atomic.Uint64 // mmsb_replication_fenced_total: publishes refused because another leader published
	RecordsPublished atomic.Uint64 // mmsb_replication_published_records_total
	RecordsApplied   atomic.Uint64 // mmsb_replication_applied_records_total
	StreamRetries    atomic.Uint64 // mmsb_replication_stream_retries_total: spells of following that ended with ErrStreamUnavailable and were retried
	WaitingForStream atomic.Bool   // a follow-only node waits for its stream or buckets to be made by a leader (Node.Run creates none): waiting_for_stream=1 in the status line, mmsb_replication_waiting_for_stream

	publishOnce sync.Once
	publish     *metric.Histogram // mmsb_replication_publish_duration_seconds: publish to stream acknowledgement
}

// publishBounds are the publish-latency buckets: 20 µs .. ~10 s.
var publishBounds = metric.Exponential(int64(20*time.Microsecond), 2, 20)

// ObservePublish records one publish's time to the stream's acknowledgement.
func (m *Metrics) ObservePublish(d time.Duration) {
	m.publishOnce.Do(func() { m.publish = metric.New(publishBounds) })
	m.publish.Observe(int64(d))
}

// Stats returns every value for an exporter (metrics.NewReplicationCollector).
func (m *Metrics) Stats() metrics.ReplicationStats {
	m.publishOnce.Do(func() { m.publish = metric.New(publishBounds) })
	h := m.publish.Snapshot(1e9) // nanoseconds to seconds
	return metrics.ReplicationStats{
		AppliedLSN:       m.AppliedLSN.Load(),
		LagLSN:           m.LagLSN.Load(),
		LagUnknown:       m.LagUnknown.Load(),
		HashMismatches:   m.HashMismatches.Load(),
		Leader:           m.Leader.Load() == 1,
		LeaderChanges:    m.LeaderChanges.Load(),
		FencedPublishes:  m.FencedPublishes.Load(),
		RecordsPublished: m.RecordsPublished.Load(),
		RecordsApplied:   m.RecordsApplied.Load(),
		StreamRetries:    m.StreamRetries.Load(),
		WaitingForStream: m.WaitingForStream.Load(),
		PublishLatency:   mmsb.Histogram{Bounds: h.Bounds, Counts: h.Counts, Count: h.Count, Sum: h.Sum},
	}
}
