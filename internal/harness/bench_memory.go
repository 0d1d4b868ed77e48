package harness

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

func init() {
	register(Benchmark{ID: 7, Key: "memory", Name: "Memory", Run: runMemory})
}

// ReadRSS returns the process's resident set size from /proc/self/status.
func ReadRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	var kb int64
	for _, line := range splitLines(b) {
		if n, _ := fmt.Sscanf(line, "VmRSS: %d kB", &kb); n == 1 {
			return kb << 10
		}
	}
	return 0
}

func splitLines(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, string(b[start:i]))
			start = i + 1
		}
	}
	return out
}

// GCPauses is a snapshot of the Go runtime's GC pause histogram.
type GCPauses struct {
	counts  []uint64
	buckets []float64
}

// ReadGCPauses snapshots the stop-the-world GC pause histogram.
func ReadGCPauses() GCPauses {
	s := []metrics.Sample{{Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return GCPauses{}
	}
	h := s[0].Value.Float64Histogram()
	return GCPauses{counts: append([]uint64(nil), h.Counts...), buckets: h.Buckets}
}

// MaxSince returns the longest pause recorded after the earlier snapshot
// (an upper bound: the edge of the highest histogram bucket that gained a
// pause), so that one benchmark is not charged for another's pauses.
func (g GCPauses) MaxSince(earlier GCPauses) time.Duration {
	for i := len(g.counts) - 1; i >= 0; i-- {
		var before uint64
		if i < len(earlier.counts) {
			before = earlier.counts[i]
		}
		if g.counts[i] > before {
			edge := g.buckets[i+1]
			if edge > 1e9 || edge != edge {
				edge = g.buckets[i]
			}
			return time.Duration(edge * float64(time.Second))
		}
	}
	return 0
}

// MaxGCPause returns the largest GC pause since the process started.
func MaxGCPause() time.Duration { return ReadGCPauses().MaxSince(GCPauses{}) }

func runMemory(ctx context.Context, env *Env, r *Result) error {
	pages, size := env.Int("pages"), env.Int("page_size")
	dir, err := os.MkdirTemp(env.Dir, "mmsb-memory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	runtime.GC()
	debug.FreeOSMemory()
	rss0 := ReadRSS()
	pauses0 := ReadGCPauses()
	// On disk (log in the page cache, not in this process) with no fsync:
	// what is measured is the bus's own memory.
	e, err := mmsb.Open(dir, &mmsb.Options{Sync: mmsb.SyncNone, CheckpointBytes: -1})
	if err != nil {
		return err
	}
	defer e.Close()
	// Create and write the pages in two halves, measuring RSS after each:
	// the second half's growth is the marginal cost per page, which projects
	// the quick run's figure to 1M pages.
	var createSec float64
	half := pages / 2
	var rssHalf int64
	for _, part := range [][2]int{{1, half}, {half + 1, pages}} {
		t0 := time.Now()
		if err := createPages(ctx, e, part[1]-part[0]+1, size); err != nil {
			return err
		}
		createSec += time.Since(t0).Seconds()
		if err := touchPages(ctx, e, part[0], part[1], size); err != nil {
			return err
		}
		// Return freed heap (garbage of the setup) to the OS: what is left
		// is what the live bus holds.
		debug.FreeOSMemory()
		if part[0] == 1 {
			rssHalf = ReadRSS()
		}
	}
	rss := ReadRSS()
	marginal := float64(rss-rssHalf) / float64(pages-half)
	projected := float64(rss-rss0) + marginal*float64(1_000_000-pages)
	st := e.Stats()
	growth := rss - rss0
	perPage := float64(growth) / float64(pages)
	avgPage := float64(st.LogicalBytes) / float64(max(st.Pages, 1))
	// Page reclamation: free the last 10% of pages and time it.
	t1 := time.Now()
	for id := pages - pages/10 + 1; id <= pages; id++ {
		if err := e.FreePage(ctx, mmsb.PageID(id)); err != nil {
			return err
		}
	}
	reclaim := time.Since(t1)
	pause := ReadGCPauses().MaxSince(pauses0)
	r.Metric("pages", float64(pages))
	r.Metric("rss_bytes", float64(rss))
	r.Metric("rss_growth_bytes", float64(growth))
	r.Metric("rss_per_page_bytes", perPage)
	r.Metric("avg_page_bytes", avgPage)
	r.Metric("arena_bytes", float64(st.Store.ArenaBytes))
	r.Metric("heap_bytes", float64(st.HeapBytes))
	r.Metric("create_seconds", createSec)
	r.Metric("reclaim_seconds", reclaim.Seconds())
	r.Metric("reclaim_pages", float64(pages/10))
	r.Metric("gc_pause_max_ms", float64(pause)/1e6)
	maxRSS := env.Threshold("max_rss_bytes")
	budgetPerPage := maxRSS / 1e6 // the seed's "1M pages <= 1 GB", as a per-page budget
	r.Semantic("avg_page_bytes", avgPage <= env.Threshold("max_overhead_per_page"), avgPage, "<= 1024")
	r.Metric("rss_marginal_per_page_bytes", marginal)
	r.Metric("rss_1m_pages_bytes", projected)
	_ = budgetPerPage
	target1M := "<= 1 GiB (measured at 1M pages)"
	if pages < 1_000_000 {
		target1M = fmt.Sprintf("<= 1 GiB (projected from %d pages at %.0f B/page marginal)", pages, marginal)
	}
	r.Semantic("rss_1m_pages", projected <= maxRSS, projected, target1M)
	maxPause := env.Threshold("max_gc_pause_ms")
	r.Timing("gc_pause_max", float64(pause)/1e6 < maxPause, float64(pause)/1e6, "ms", fmt.Sprintf("< %g ms", maxPause))
	r.Summary = fmt.Sprintf("%d pages: RSS +%.0f MiB (%.0f B/page, marginal %.0f B), 1M pages %.0f MiB, avg page %.0f B, GC max %.2fms, create %.2fs, free %d pages %.1fms",
		pages, float64(growth)/(1<<20), perPage, marginal, projected/(1<<20), avgPage, float64(pause)/1e6, createSec, pages/10, float64(reclaim)/1e6)
	return nil
}

// touchPages writes 8 bytes into pages [from, to], so that all of their
// memory is resident (a 1 KiB cell shares its OS page with its neighbours).
func touchPages(ctx context.Context, e *mmsb.Bus, from, to, size int) error {
	const batch = 4096
	ds := make([]delta.Delta, 0, batch)
	runs := make([]delta.Run, batch)
	stamp := []byte("mmsb-mem")
	for id := from; id <= to; id++ {
		runs[len(ds)] = delta.Run{Offset: uint32((id * 8) % (size - len(stamp) + 1)), Data: stamp}
		ds = append(ds, delta.Delta{Page: mmsb.PageID(id), Runs: runs[len(ds) : len(ds)+1]})
		if len(ds) == batch || id == to {
			if _, err := e.Commit(ctx, ds); err != nil {
				return err
			}
			ds = ds[:0]
		}
	}
	return nil
}
