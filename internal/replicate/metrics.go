package replicate

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics are the replication counters and gauges of one node, plain
// values that an exporter (Prometheus or other) reads with Samples. Names
// are in base units.
type Metrics struct {
	AppliedLSN       atomic.Uint64 // mmsb_replication_applied_lsn: last LSN applied (follower) or stored (leader)
	LagLSN           atomic.Uint64 // mmsb_replication_lag_lsn: stream's last LSN minus the applied LSN (follower)
	HashMismatches   atomic.Uint64 // mmsb_replication_hash_mismatch_total
	Leader           atomic.Uint64 // mmsb_leader: 1 while this node leads, else 0
	LeaderChanges    atomic.Uint64 // mmsb_leader_changes_total: times this node became or stopped being leader
	FencedPublishes  atomic.Uint64 // mmsb_replication_fenced_total: publishes the stream refused (wrong last sequence)
	PublishLatency   Histogram     // mmsb_replication_publish_seconds: publish to stream acknowledgement
	RecordsPublished atomic.Uint64 // mmsb_replication_published_records_total
	RecordsApplied   atomic.Uint64 // mmsb_replication_applied_records_total
}

// Sample is one exported value. Histograms give one sample per bucket
// (Name_bucket with LE set), plus Name_sum and Name_count.
type Sample struct {
	Name  string
	Help  string
	Kind  string  // "counter", "gauge" or "histogram"
	LE    float64 // histogram bucket upper bound (seconds); +Inf for the last
	Value float64
}

// Samples returns every metric's current value, in a fixed order.
func (m *Metrics) Samples() []Sample {
	out := []Sample{
		{Name: "mmsb_replication_applied_lsn", Help: "Last LSN applied (follower) or stored by the stream (leader).", Kind: "gauge", Value: float64(m.AppliedLSN.Load())},
		{Name: "mmsb_replication_lag_lsn", Help: "Stream's last LSN minus the follower's applied LSN.", Kind: "gauge", Value: float64(m.LagLSN.Load())},
		{Name: "mmsb_replication_hash_mismatch_total", Help: "Records after which the follower's rolling state hash differed from the leader's.", Kind: "counter", Value: float64(m.HashMismatches.Load())},
		{Name: "mmsb_leader", Help: "1 while this node holds the leader lease and commits.", Kind: "gauge", Value: float64(m.Leader.Load())},
		{Name: "mmsb_leader_changes_total", Help: "Times this node became leader or stepped down.", Kind: "counter", Value: float64(m.LeaderChanges.Load())},
		{Name: "mmsb_replication_fenced_total", Help: "Publishes refused by the stream's expected-last-sequence fence.", Kind: "counter", Value: float64(m.FencedPublishes.Load())},
		{Name: "mmsb_replication_published_records_total", Help: "Records published and acknowledged by the stream.", Kind: "counter", Value: float64(m.RecordsPublished.Load())},
		{Name: "mmsb_replication_applied_records_total", Help: "Records applied by this follower.", Kind: "counter", Value: float64(m.RecordsApplied.Load())},
	}
	return append(out, m.PublishLatency.samples("mmsb_replication_publish_seconds", "Time from publishing a record to the stream's acknowledgement.")...)
}

// latencyBounds are the histogram's bucket upper bounds, in seconds.
var latencyBounds = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram counts durations in fixed buckets (latencyBounds).
type Histogram struct {
	mu     sync.Mutex
	counts [17]uint64 // len(latencyBounds)+1, the last for +Inf
	sum    float64
	n      uint64
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(latencyBounds) && s > latencyBounds[i] {
		i++
	}
	h.mu.Lock()
	h.counts[i]++
	h.sum += s
	h.n++
	h.mu.Unlock()
}

func (h *Histogram) samples(name, help string) []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Sample, 0, len(h.counts)+2)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		le := math.Inf(1)
		if i < len(latencyBounds) {
			le = latencyBounds[i]
		}
		out = append(out, Sample{Name: name + "_bucket", Help: help, Kind: "histogram", LE: le, Value: float64(cum)})
	}
	return append(out,
		Sample{Name: name + "_sum", Help: help, Kind: "histogram", Value: h.sum},
		Sample{Name: name + "_count", Help: help, Kind: "histogram", Value: float64(h.n)})
}
