package main

import (
	"sync"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/metrics"
)

// roleMetrics is the one registry 'serve --replicate' exposes at /metrics
// for the process's life, with a role and without one. Each role has its
// own bus and server; the registry reads the current ones, and adds to
// their counters and histograms those of the roles before, so that no
// counter goes down at a role change: a registry built per role restarted
// mmsb_commits_total, mmsb_rpc_requests_total and the others at 0 after a
// failover within the process, which rate() and increase() read as a
// process restart (TestServeReplicateFailover).
type roleMetrics struct {
	reg *prometheus.Registry
	rpc connect.Interceptor // one for the process: its counters live in reg

	mu sync.Mutex
	// done sums the metrics of the buses of the roles before last's;
	// doneCommit their commit durations by sync mode, the histogram's
	// label: a leader's bus syncs "replicated", a follower's "group".
	done       mmsb.Metrics
	doneCommit map[string]mmsb.Histogram
	// last is the bus of the role that ended last, until the next role
	// begins: the node closes it after the role ends (its final
	// checkpoint still counts), and a closed bus keeps reporting its
	// final values.
	last *mmsb.Bus
	cur  *mmsb.Bus      // the current role's bus (nil: no role)
	srv  *server.Server // the current role's server (nil: no role)
	// watchDone holds the watch counters of the servers of the roles
	// that ended (Slow and Compacted; the gauges are the current
	// server's).
	watchDone metrics.WatchStats
}

// newRoleMetrics builds the registry: build info, the Go runtime and the
// process, the replication node (node), the buses of the roles, the watch
// hubs of their servers, and the RPC interceptor for the roles' muxes.
func newRoleMetrics(node func() metrics.ReplicationStats) (*roleMetrics, error) {
	m := &roleMetrics{reg: prometheus.NewRegistry(), doneCommit: map[string]mmsb.Histogram{}}
	for _, c := range []prometheus.Collector{
		metrics.NewBuildInfoCollector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.NewReplicationCollector(node),
		metrics.NewBusMetricsCollector(m.busMetrics),
		metrics.NewWatchCollector(m.watchStats),
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	ic, err := metrics.NewRPCMetrics(m.reg)
	if err != nil {
		return nil, err
	}
	m.rpc = ic
	return m, nil
}

// begin makes bus and srv the current role's. The bus of the role before
// was closed before this one opened: its final values join done.
func (m *roleMetrics) begin(bus *mmsb.Bus, srv *server.Server) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last != nil {
		lm := m.last.Metrics()
		m.done = addBusMetrics(m.done, lm)
		m.doneCommit[lm.SyncMode] = addHistogram(m.doneCommit[lm.SyncMode], lm.CommitDuration)
		m.last = nil
	}
	m.cur, m.srv = bus, srv
}

// end ends the current role, once its server has shut down (its watches
// have ended: their counters are final).
func (m *roleMetrics) end() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.srv != nil {
		w := m.srv.WatchStats()
		m.watchDone.Slow += w.Slow
		m.watchDone.Compacted += w.Compacted
	}
	if m.cur != nil {
		m.last = m.cur // begin cleared last
	}
	m.cur, m.srv = nil, nil
}

// busMetrics is the bus collector's source: the sum over the roles' buses,
// with the gauges of the newest; none before the first role. The commit
// durations are those of the buses in the newest one's sync mode: the
// series of another mode is not exported meanwhile, and goes on from its
// count when a bus in that mode is back.
func (m *roleMetrics) busMetrics() (mmsb.Metrics, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ms []mmsb.Metrics
	for _, b := range []*mmsb.Bus{m.last, m.cur} {
		if b != nil {
			ms = append(ms, b.Metrics())
		}
	}
	if len(ms) == 0 {
		return mmsb.Metrics{}, false
	}
	out := m.done
	for _, bm := range ms {
		out = addBusMetrics(out, bm)
	}
	commit := m.doneCommit[out.SyncMode]
	for _, bm := range ms {
		if bm.SyncMode == out.SyncMode {
			commit = addHistogram(commit, bm.CommitDuration)
		}
	}
	out.CommitDuration = commit
	return out, true
}

// watchStats is the watch collector's source: the current server's, with
// the counters of the servers before added.
func (m *roleMetrics) watchStats() metrics.WatchStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.watchDone
	if m.srv != nil {
		w := m.srv.WatchStats()
		s.Watchers, s.Synced, s.PendingBatches = w.Watchers, w.Synced, w.PendingBatches
		s.Slow += w.Slow
		s.Compacted += w.Compacted
	}
	return s
}

// addBusMetrics returns the metrics of a bus that follows the buses summed
// in sum (zero: none): its counters and histograms added to sum's, and its
// own gauges (LSNs, pages, the last checkpoint's size, the sync mode). The
// commit durations are added whatever the sync modes (see busMetrics).
func addBusMetrics(sum, next mmsb.Metrics) mmsb.Metrics {
	out := next
	out.CommitDuration = addHistogram(sum.CommitDuration, next.CommitDuration)
	out.LogFsyncDuration = addHistogram(sum.LogFsyncDuration, next.LogFsyncDuration)
	out.LogGroupCommitRecords = addHistogram(sum.LogGroupCommitRecords, next.LogGroupCommitRecords)
	out.CheckpointDuration = addHistogram(sum.CheckpointDuration, next.CheckpointDuration)
	out.Commits += sum.Commits
	out.Deltas += sum.Deltas
	out.LogBytes += sum.LogBytes
	out.LogLogicalBytes += sum.LogLogicalBytes
	out.Checkpoints += sum.Checkpoints
	out.CheckpointFailures += sum.CheckpointFailures
	out.PagesRecomputed += sum.PagesRecomputed
	out.WavesComputedAgain += sum.WavesComputedAgain
	return out
}

// addHistogram returns a new histogram holding the observations of a and
// b. The buses' bucket layouts are fixed, so they agree; b alone is
// returned (copied) if a has none, and also if they disagree, which cannot
// be added bucket by bucket.
func addHistogram(a, b mmsb.Histogram) mmsb.Histogram {
	out := mmsb.Histogram{Bounds: append([]float64(nil), b.Bounds...), Counts: append([]uint64(nil), b.Counts...),
		Count: b.Count, Sum: b.Sum}
	if len(a.Bounds) != len(b.Bounds) || len(a.Counts) != len(b.Counts) {
		return out
	}
	for i := range a.Bounds {
		if a.Bounds[i] != b.Bounds[i] {
			return out
		}
	}
	for i := range out.Counts {
		out.Counts[i] += a.Counts[i]
	}
	out.Count += a.Count
	out.Sum += a.Sum
	return out
}
