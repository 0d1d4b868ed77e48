package mmsb

import (
	"sync/atomic"
	"time"

	"github.com/mmsb-go/mmsb/internal/metric"
)

// Metrics is a read-only snapshot of a bus's operational counters, gauges
// and histograms, for monitoring: package metrics exports it to Prometheus
// (docs/metrics.md names each metric). Counters are cumulative since Open;
// histograms are fixed-bucket and cumulative. Recording them costs a few
// atomic adds per commit, fsync or checkpoint, never per delta.
//
// A bus opened with Options.DisableLog has no log: its Log* fields stay
// zero.
type Metrics struct {
	// SyncMode is the bus's sync mode ("group", "always", "none" or
	// "replicated", as Stats.SyncMode): what CommitDuration measured.
	SyncMode string

	Commits uint64 // delta batches committed (Commit and CommitAsync)
	Deltas  uint64 // deltas in those batches
	// CommitDuration: seconds per successful Commit, from the call to its
	// return: waiting for the bus, validation, logging, applying and the
	// wait for durability per SyncMode. CommitAsync, which does not wait,
	// is not in it.
	CommitDuration Histogram

	// LogFsyncDuration: seconds per fsync of a log segment (group
	// commits, rotations, new segments), failed ones included.
	LogFsyncDuration Histogram
	// LogBytes counts the bytes written to log segments (record frames
	// and segment headers: the physical bytes); LogLogicalBytes the
	// encoded operations appended, before framing. Records still
	// buffered for the next group commit are in LogLogicalBytes only.
	LogBytes        uint64
	LogLogicalBytes uint64
	// LogGroupCommitRecords: records per log write. Under SyncGroup one
	// write carries every record appended while the previous fsync ran,
	// so this is the size of a commit group; under SyncAlways and SyncNone
	// it is mostly 1.
	LogGroupCommitRecords Histogram

	Checkpoints        uint64    // successful checkpoints since Open
	CheckpointFailures uint64    // failed checkpoints since Open (Stats.CheckpointFailures)
	CheckpointDuration Histogram // seconds per successful checkpoint
	CheckpointBytes    int64     // size of the last successful checkpoint file (0: none yet)
	CheckpointLastLSN  LSN       // LSN the newest checkpoint covers (0: none)

	CommittedLSN      LSN // last LSN logged and applied
	DurableLSN        LSN // last LSN covered by a completed fsync
	OldestRetainedLSN LSN // first LSN QueryLog can still read (LogStats.OldestLSN; 0: empty log)

	Pages           int    // live pages
	PageBytes       int64  // sum of their sizes
	PagesRecomputed uint64 // recompute function calls by propagation (derived pages recomputed)
	// WavesComputedAgain counts propagation waves computed a second time,
	// with the bus's lock held, because a page they read was written, or a
	// page, edge or binding changed, while their functions ran without the
	// lock (see PropagateInto). The calls of both tries are in
	// PagesRecomputed (a second try calls only the functions whose inputs
	// changed).
	WavesComputedAgain uint64
}

// Histogram is a snapshot of a fixed-bucket histogram in the unit its
// field names (seconds, bytes or records).
type Histogram struct {
	Bounds []float64 // inclusive upper bounds, ascending
	Counts []uint64  // cumulative: Counts[i] observations were <= Bounds[i]
	Count  uint64    // all observations (what a +Inf bucket would hold)
	Sum    float64   // sum of the observations
}

// Bucket layouts. Durations are recorded in nanoseconds; the fsync buckets
// start at 20 µs because an NVMe fsync takes tens of microseconds (a 1 ms
// first bucket would hold them all).
var (
	commitBounds     = metric.Exponential(int64(time.Microsecond), 2, 24)    // 1 µs .. ~8.4 s
	fsyncBounds      = metric.Exponential(int64(20*time.Microsecond), 2, 19) // 20 µs .. ~5.2 s
	groupBounds      = metric.Exponential(1, 2, 14)                          // 1 .. 8192 records
	checkpointBounds = metric.Exponential(int64(time.Millisecond), 2, 18)    // 1 ms .. ~131 s
	nanosPerSecond   = 1e9
)

// busMetrics is what the bus records for Metrics beyond its Stats.
type busMetrics struct {
	commits      atomic.Uint64
	deltas       atomic.Uint64
	recomputed   atomic.Uint64
	wavesAgain   atomic.Uint64
	ckptBytes    atomic.Int64
	commitNanos  *metric.Histogram
	fsyncNanos   *metric.Histogram
	groupRecords *metric.Histogram
	ckptNanos    *metric.Histogram
}

func (m *busMetrics) init() {
	m.commitNanos = metric.New(commitBounds)
	m.fsyncNanos = metric.New(fsyncBounds)
	m.groupRecords = metric.New(groupBounds)
	m.ckptNanos = metric.New(checkpointBounds)
}

// Metrics returns a snapshot of the bus's metrics. It keeps answering
// after Close (with the final values).
func (e *Bus) Metrics() Metrics {
	s := e.Stats()
	m := Metrics{
		SyncMode:              s.SyncMode,
		Commits:               e.met.commits.Load(),
		Deltas:                e.met.deltas.Load(),
		CommitDuration:        Histogram(e.met.commitNanos.Snapshot(nanosPerSecond)),
		LogFsyncDuration:      Histogram(e.met.fsyncNanos.Snapshot(nanosPerSecond)),
		LogBytes:              s.Log.WriteBytes,
		LogLogicalBytes:       s.Log.PayloadBytes,
		LogGroupCommitRecords: Histogram(e.met.groupRecords.Snapshot(1)),
		Checkpoints:           s.Checkpoints,
		CheckpointFailures:    s.CheckpointFailures,
		CheckpointDuration:    Histogram(e.met.ckptNanos.Snapshot(nanosPerSecond)),
		CheckpointBytes:       e.met.ckptBytes.Load(),
		CheckpointLastLSN:     s.LastCheckpoint,
		CommittedLSN:          s.LastLSN,
		DurableLSN:            s.Log.DurableLSN,
		OldestRetainedLSN:     s.Log.OldestLSN,
		Pages:                 s.Pages,
		PageBytes:             s.LogicalBytes,
		PagesRecomputed:       e.met.recomputed.Load(),
		WavesComputedAgain:    e.met.wavesAgain.Load(),
	}
	return m
}
