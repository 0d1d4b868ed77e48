// Package memmon measures MMSB's memory: process RSS and its peak (from
// /proc/self/status), the Go heap and GC pauses (runtime/metrics), the page
// arena's use (Engine.Stats), the resulting per-page overhead, and the time
// page reclamation and log-segment cleanup take.
//
// It only observes. Unlike the original's "GC", which freed live pages, it
// never evicts or frees anything on its own: MeasureReclaim frees exactly
// the pages its caller names, and MeasureSegmentCleanup takes an ordinary
// checkpoint (which removes only log segments a checkpoint covers).
package memmon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/mmsb-go/mmsb"
)

// ErrNoProcStatus means the process status file is missing, lacks VmRSS or
// VmHWM, or has a malformed one (not Linux, or a restricted /proc).
var ErrNoProcStatus = errors.New("memmon: /proc/self/status unavailable")

// ProcStatusPath is where RSS is read from (a variable for tests).
var ProcStatusPath = "/proc/self/status"

// Snapshot is one measurement. Byte counts are bytes; durations are
// nanoseconds in JSON.
type Snapshot struct {
	Time time.Time `json:"time"`

	// Process, from /proc/self/status (0 with RSSError set when unavailable).
	RSSBytes     uint64 `json:"rss_bytes"`      // VmRSS: resident now
	RSSPeakBytes uint64 `json:"rss_peak_bytes"` // VmHWM: resident high-water mark
	RSSError     string `json:"rss_error,omitempty"`

	// Go runtime, from runtime/metrics.
	GoHeapBytes   uint64        `json:"go_heap_bytes"`   // live and dead heap objects not yet swept
	GoTotalBytes  uint64        `json:"go_total_bytes"`  // all memory mapped by the Go runtime
	GCCycles      uint64        `json:"gc_cycles"`       // completed GC cycles
	GCPauses      uint64        `json:"gc_pauses"`       // stop-the-world GC pauses recorded
	GCPauseMax    time.Duration `json:"gc_pause_max_ns"` // upper bound of the largest pause bucket hit
	GCPauseP99    time.Duration `json:"gc_pause_p99_ns"` // 99th percentile (bucket upper bound)
	GCPauseMetric string        `json:"gc_pause_metric"` // which runtime/metrics histogram was read

	// Page store, from Engine.Stats (zero without an engine).
	Pages          int   `json:"pages"`
	LogicalBytes   int64 `json:"logical_bytes"`    // sum of page sizes
	ArenaBytes     int64 `json:"arena_bytes"`      // mapped for page data (in use + free)
	ArenaFreeBytes int64 `json:"arena_free_bytes"` // mapped, holding no live page
	ArenaInUse     int64 `json:"arena_in_use_bytes"`
	SlotMetaBytes  int64 `json:"slot_meta_bytes"` // per-slot arrays and ID index
	KVBytes        int64 `json:"kv_bytes"`        // page key/value metadata
	GraphBytes     int64 `json:"graph_bytes"`
	HistoryEntries int   `json:"history_entries"` // provenance ring capacity

	// Derived figures (0 without pages).
	AvgPageRSSBytes      float64 `json:"avg_page_rss_bytes"`      // RSS / pages
	PerPageOverheadBytes float64 `json:"per_page_overhead_bytes"` // (RSS - logical bytes) / pages
}

// Take measures the process and, if e is not nil, its page store.
func Take(e *mmsb.Bus) Snapshot {
	s := Snapshot{Time: time.Now()}
	if rss, hwm, err := ReadRSS(); err != nil {
		s.RSSError = err.Error()
	} else {
		s.RSSBytes, s.RSSPeakBytes = rss, hwm
	}
	readRuntime(&s)
	if e != nil {
		st := e.Stats()
		s.Pages, s.LogicalBytes = st.Pages, st.LogicalBytes
		s.ArenaBytes, s.ArenaFreeBytes = st.Store.ArenaBytes, st.Store.ArenaFree
		s.ArenaInUse = st.Store.ArenaBytes - st.Store.ArenaFree
		s.SlotMetaBytes, s.KVBytes = st.Store.MetaBytes, st.Store.KVBytes
		s.GraphBytes, s.HistoryEntries = st.GraphBytes, st.HistoryCapacity
	}
	if s.Pages > 0 && s.RSSBytes > 0 {
		s.AvgPageRSSBytes = float64(s.RSSBytes) / float64(s.Pages)
		s.PerPageOverheadBytes = (float64(s.RSSBytes) - float64(s.LogicalBytes)) / float64(s.Pages)
	}
	return s
}

// ReadRSS returns the process's resident set size and its high-water mark
// in bytes (VmRSS and VmHWM of /proc/self/status).
func ReadRSS() (rss, hwm uint64, err error) {
	b, err := os.ReadFile(ProcStatusPath)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrNoProcStatus, err)
	}
	return parseStatus(b)
}

// parseStatus extracts VmRSS and VmHWM ("VmRSS:\t  1234 kB") from a
// /proc/<pid>/status file.
func parseStatus(b []byte) (rss, hwm uint64, err error) {
	var haveRSS, haveHWM bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		var dst *uint64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst, haveRSS = &rss, true
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst, haveHWM = &hwm, true
		default:
			continue
		}
		f := bytes.Fields(line[6:])
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, 0, fmt.Errorf("%w: malformed line %q", ErrNoProcStatus, line)
		}
		v, perr := strconv.ParseUint(string(f[0]), 10, 64)
		if perr != nil || v > math.MaxUint64/1024 {
			return 0, 0, fmt.Errorf("%w: malformed line %q", ErrNoProcStatus, line)
		}
		*dst = v * 1024
	}
	// Both lines are required, each for itself: counting lines let a
	// status without VmHWM report a peak of 0, and one with two VmHWM
	// lines and no VmRSS an RSS of 0, as if measured.
	switch {
	case !haveRSS:
		return 0, 0, fmt.Errorf("%w: no VmRSS line", ErrNoProcStatus)
	case !haveHWM:
		return 0, 0, fmt.Errorf("%w: no VmHWM line", ErrNoProcStatus)
	}
	return rss, hwm, nil
}

// Pause histograms, newest name first: /gc/pauses:seconds is deprecated in
// favour of the identical /sched/pauses/total/gc:seconds.
var pauseMetrics = []string{"/sched/pauses/total/gc:seconds", "/gc/pauses:seconds"}

func readRuntime(s *Snapshot) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: pauseMetrics[0]},
		{Name: pauseMetrics[1]},
	}
	metrics.Read(samples)
	s.GoHeapBytes = u64(samples[0].Value)
	s.GoTotalBytes = u64(samples[1].Value)
	s.GCCycles = u64(samples[2].Value)
	for i, name := range pauseMetrics {
		v := samples[3+i].Value
		if v.Kind() != metrics.KindFloat64Histogram {
			continue
		}
		s.GCPauseMetric = name
		s.GCPauses, s.GCPauseMax, s.GCPauseP99 = pauseStats(v.Float64Histogram())
		break
	}
}

func u64(v metrics.Value) uint64 {
	if v.Kind() == metrics.KindUint64 {
		return v.Uint64()
	}
	return 0
}

// pauseStats returns the number of pauses, the upper bound of the highest
// non-empty bucket (max) and of the bucket holding the 99th percentile.
// runtime/metrics histograms are bucketed, so both are upper bounds; an
// infinite last boundary is replaced by its finite lower bound.
func pauseStats(h *metrics.Float64Histogram) (n uint64, maxP, p99 time.Duration) {
	for _, c := range h.Counts {
		n += c
	}
	if n == 0 {
		return 0, 0, 0
	}
	upper := func(i int) time.Duration {
		b := h.Buckets[i+1]
		if math.IsInf(b, 1) {
			b = h.Buckets[i]
		}
		return time.Duration(b * float64(time.Second))
	}
	rank := uint64(math.Ceil(0.99 * float64(n)))
	var cum uint64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		cum += c
		if p99 == 0 && cum >= rank {
			p99 = upper(i)
		}
		maxP = upper(i)
	}
	return n, maxP, p99
}

// ReclaimResult is the cost of freeing a batch of pages.
type ReclaimResult struct {
	Pages           int           `json:"pages"`
	Duration        time.Duration `json:"duration_ns"`
	PerPage         time.Duration `json:"per_page_ns"`
	ArenaFreeBefore int64         `json:"arena_free_before_bytes"`
	ArenaFreeAfter  int64         `json:"arena_free_after_bytes"`
}

// MeasureReclaim frees the given pages (each a logged FreePage; pages with
// edges or bindings are refused by the engine) and reports how long it
// took and how much arena space became free. It frees nothing else. On an
// error it stops and reports what was freed so far.
func MeasureReclaim(ctx context.Context, e *mmsb.Bus, ids []mmsb.PageID) (ReclaimResult, error) {
	r := ReclaimResult{ArenaFreeBefore: e.Stats().Store.ArenaFree}
	start := time.Now()
	var err error
	for _, id := range ids {
		if err = e.FreePage(ctx, id); err != nil {
			err = fmt.Errorf("memmon: free page %d: %w", id, err)
			break
		}
		r.Pages++
	}
	r.Duration = time.Since(start)
	if r.Pages > 0 {
		r.PerPage = r.Duration / time.Duration(r.Pages)
	}
	r.ArenaFreeAfter = e.Stats().Store.ArenaFree
	return r, err
}

// CleanupResult is the cost of a checkpoint and the log cleanup it allows.
type CleanupResult struct {
	SegmentsRemoved int           `json:"segments_removed"`
	Duration        time.Duration `json:"duration_ns"` // the whole checkpoint, cleanup included
	CheckpointBytes int64         `json:"checkpoint_bytes"`
	SegmentsBefore  int           `json:"log_segments_before"`
	SegmentsAfter   int           `json:"log_segments_after"`
}

// MeasureSegmentCleanup takes a checkpoint and reports the log segments it
// removed and how long checkpoint plus cleanup took.
func MeasureSegmentCleanup(ctx context.Context, e *mmsb.Bus) (CleanupResult, error) {
	before := e.Stats().Log.Segments
	info, err := e.Checkpoint(ctx)
	if err != nil {
		return CleanupResult{}, fmt.Errorf("memmon: checkpoint: %w", err)
	}
	return CleanupResult{SegmentsRemoved: info.SegmentsRemoved, Duration: info.Duration, CheckpointBytes: info.Bytes,
		SegmentsBefore: before, SegmentsAfter: e.Stats().Log.Segments}, nil
}
