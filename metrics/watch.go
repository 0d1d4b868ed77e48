package metrics

import "github.com/prometheus/client_golang/prometheus"

// WatchStats are a watch hub's counters, as the server reports them to
// NewWatchCollector.
type WatchStats struct {
	Streams       int    // open watch streams (connections)
	Watchers      int    // watchers across them (one stream may carry several)
	Slow          uint64 // watchers that fell behind their bounded queue (moved to catch-up from the log, or closed with a resumable error)
	Compacted     uint64 // watch requests refused because their start LSN was checkpointed away
	PendingDeltas int    // changes queued to watchers and not yet sent
}

// watchCollector exports WatchStats read from a function.
type watchCollector struct {
	stats                                       func() WatchStats
	streams, watchers, slow, compacted, pending *prometheus.Desc
}

// NewWatchCollector returns a collector that calls stats at every scrape
// and exports mmsb_watch_streams, mmsb_watchers, mmsb_watch_slow_total,
// mmsb_watch_compacted_total and mmsb_watch_pending_deltas. stats must be
// safe to call from the scraping goroutine and cheap (a few atomic loads).
// The watch hub lives in the server; this is how it exports itself without
// package metrics knowing it.
func NewWatchCollector(stats func() WatchStats) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc("mmsb_"+name, help, nil, nil) }
	return &watchCollector{
		stats:     stats,
		streams:   d("watch_streams", "Open watch streams."),
		watchers:  d("watchers", "Active watchers."),
		slow:      d("watch_slow_total", "Watchers that fell behind their bounded queue."),
		compacted: d("watch_compacted_total", "Watch requests refused because their start LSN was compacted away."),
		pending:   d("watch_pending_deltas", "Changes queued to watchers and not yet sent."),
	}
}

// Describe sends every metric's description.
func (c *watchCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.streams, c.watchers, c.slow, c.compacted, c.pending} {
		ch <- d
	}
}

// Collect calls the stats function once and sends its values.
func (c *watchCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.streams, prometheus.GaugeValue, float64(s.Streams))
	ch <- prometheus.MustNewConstMetric(c.watchers, prometheus.GaugeValue, float64(s.Watchers))
	ch <- prometheus.MustNewConstMetric(c.slow, prometheus.CounterValue, float64(s.Slow))
	ch <- prometheus.MustNewConstMetric(c.compacted, prometheus.CounterValue, float64(s.Compacted))
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.PendingDeltas))
}
