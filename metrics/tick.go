package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsb-go/mmsb/tick"
)

// tickCollector exports an orchestrator's Metrics snapshot.
type tickCollector struct {
	o *tick.Orchestrator

	ticks, overruns, duration, phaseDuration          *prometheus.Desc
	committed, rejected, recomputeFailures, invFailed *prometheus.Desc
	queue, queueBytes, pending                        *prometheus.Desc
}

// NewTickCollector returns a collector of o's tick metrics
// (tick.Orchestrator.Metrics), read at every scrape: tick and per-phase
// durations as histograms, overruns and the intake queue. Register it next
// to the collector of o's bus (NewBusCollector). A nil o makes a collector
// that Register refuses (an error wrapping mmsb.ErrInvalidOption).
func NewTickCollector(o *tick.Orchestrator) prometheus.Collector {
	if o == nil {
		return noSource("NewTickCollector of a nil orchestrator")
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("mmsb_"+name, help, labels, nil)
	}
	return &tickCollector{
		o:                 o,
		ticks:             d("ticks_total", "Ticks run."),
		overruns:          d("tick_overruns_total", "Ticks that took longer than their budget."),
		duration:          d("tick_duration_seconds", "Time per tick, all phases."),
		phaseDuration:     d("tick_phase_duration_seconds", "Time per tick spent in one phase.", "phase"),
		committed:         d("tick_deltas_committed_total", "Submitted deltas committed by ticks."),
		rejected:          d("tick_deltas_rejected_total", "Submitted deltas rejected by ticks: invalid, too large for a log record alone, or in a logged batch that failed to become durable (a batch not committed for another reason is kept for the next tick)."),
		recomputeFailures: d("tick_recompute_failures_total", "Propagation waves that failed in a recompute function."),
		invFailed:         d("tick_invariant_failures_total", "Invariant hook runs that failed."),
		queue:             d("tick_queue_deltas", "Deltas submitted and waiting for a tick."),
		queueBytes:        d("tick_queue_bytes", "Bytes the intake queue holds in copies of submitted deltas (bounded by tick.Options.MaxQueueBytes)."),
		pending:           d("tick_pending_pages", "Pages awaiting propagation: dirty, derived and not yet computed, or held back by a failed recompute."),
	}
}

// Describe sends every metric's description.
func (c *tickCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ticks, c.overruns, c.duration, c.phaseDuration, c.committed,
		c.rejected, c.recomputeFailures, c.invFailed, c.queue, c.queueBytes, c.pending} {
		ch <- d
	}
}

// Collect reads the orchestrator's metrics once and sends them.
func (c *tickCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.o.Metrics()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(c.ticks, m.Ticks)
	counter(c.overruns, m.Overruns)
	ch <- constHistogram(c.duration, m.Phases[tick.PhaseTotal].Histogram)
	for p := tick.Phase(0); p < tick.NumPhases; p++ {
		if p != tick.PhaseTotal {
			ch <- constHistogram(c.phaseDuration, m.Phases[p].Histogram, p.String())
		}
	}
	counter(c.committed, m.Committed)
	counter(c.rejected, m.Rejected)
	counter(c.recomputeFailures, m.RecomputeFailures)
	counter(c.invFailed, m.InvariantFailures)
	ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(m.QueueLen))
	ch <- prometheus.MustNewConstMetric(c.queueBytes, prometheus.GaugeValue, float64(m.QueueBytes))
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(m.Pending))
}
