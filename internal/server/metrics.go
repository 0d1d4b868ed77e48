package server

import (
	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mmsb-go/mmsb/metrics"
)

// WatchStats reports the watch hub's counters (for metrics.NewWatchCollector).
func (s *Server) WatchStats() metrics.WatchStats {
	synced, pending := s.hub.load()
	return metrics.WatchStats{Watchers: int(s.watchers.Load()), Synced: synced, Slow: s.slow.Load(),
		Compacted: s.compacted.Load(), PendingBatches: pending}
}

// load returns the synced watchers and the batches queued to them, from
// the hub's kept counts: without its lock, which the fan-out, joins and
// progress messages need (see hub.pending).
func (h *hub) load() (synced, pending int) {
	return int(h.nsynced.Load()), int(h.pending.Load())
}

// NewMetrics returns the registry `mmsb serve` exposes at /metrics: the
// served bus (and its orchestrator, if any), the watch hub, build info, the
// Go runtime and the process; and the RPC-metrics interceptor, registered
// in it, for HTTPOptions.Interceptors.
func (s *Server) NewMetrics() (*prometheus.Registry, connect.Interceptor, error) {
	reg := prometheus.NewRegistry()
	cs := []prometheus.Collector{
		metrics.NewBusCollector(s.bus),
		metrics.NewWatchCollector(s.WatchStats),
		metrics.NewBuildInfoCollector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if s.orch != nil {
		cs = append(cs, metrics.NewTickCollector(s.orch))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, nil, err
		}
	}
	ic, err := metrics.NewRPCMetrics(reg)
	if err != nil {
		return nil, nil, err
	}
	return reg, ic, nil
}
