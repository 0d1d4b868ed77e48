package metrics

import "github.com/prometheus/client_golang/prometheus"

// WatchStats are a watch hub's counters, as the server reports them to
// NewWatchCollector.
type WatchStats struct {
	Watchers int // open watch streams (one watcher each)
	// Synced counts the watchers fed by the hub's fan-out; the others are
	// catching up by reading the log themselves (new, or demoted as slow).
	Synced    int
	Slow      uint64 // watchers demoted because their bounded queue overflowed
	Compacted uint64 // watch requests refused because their start LSN was checkpointed away
	// PendingBatches counts the batches of changes (one per hub step)
	// queued to synced watchers and not yet sent.
	PendingBatches int
}

// watchCollector exports WatchStats read from a function.
type watchCollector struct {
	stats                                      func() WatchStats
	watchers, synced, slow, compacted, pending *prometheus.Desc
}

// NewWatchCollector returns a collector that calls stats at every scrape
// and exports mmsb_watchers, mmsb_watchers_synced, mmsb_watch_slow_total,
// mmsb_watch_compacted_total and mmsb_watch_pending_batches. stats must be
// safe to call from the scraping goroutine and cheap. The watch hub lives
// in the server; this is how it exports itself without package metrics
// knowing it. A nil stats makes a collector that Register refuses (an
// error wrapping mmsb.ErrInvalidOption).
func NewWatchCollector(stats func() WatchStats) prometheus.Collector {
	if stats == nil {
		return noSource("NewWatchCollector of a nil stats function")
	}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc("mmsb_"+name, help, nil, nil) }
	return &watchCollector{
		stats:     stats,
		watchers:  d("watchers", "Open watch streams."),
		synced:    d("watchers_synced", "Watchers fed by the hub; the others catch up from the log."),
		slow:      d("watch_slow_total", "Watchers demoted to catching up because their bounded queue overflowed."),
		compacted: d("watch_compacted_total", "Watch requests refused because their start LSN was compacted away."),
		pending:   d("watch_pending_batches", "Batches of changes queued to synced watchers and not yet sent."),
	}
}

// Describe sends every metric's description.
func (c *watchCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.watchers, c.synced, c.slow, c.compacted, c.pending} {
		ch <- d
	}
}

// Collect calls the stats function once and sends its values.
func (c *watchCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.watchers, prometheus.GaugeValue, float64(s.Watchers))
	ch <- prometheus.MustNewConstMetric(c.synced, prometheus.GaugeValue, float64(s.Synced))
	ch <- prometheus.MustNewConstMetric(c.slow, prometheus.CounterValue, float64(s.Slow))
	ch <- prometheus.MustNewConstMetric(c.compacted, prometheus.CounterValue, float64(s.Compacted))
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.PendingBatches))
}
