package harness

import (
	"errors"
	"math"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/memmon"
)

// tinyMemory: a size that runs in a fraction of a second. Too small for
// the 1M-page projection to be meaningful, so only negative controls use
// it (TestQuickRunSubset runs the quick size and requires a pass).
func tinyMemory(env *Env) memoryConfig {
	return memoryConfig{pages: 20000, pageSize: 1024, dir: env.Dir}
}

// TestReadRSSFailsClosed: without a readable status file ReadRSS returns an
// error wrapping memmon.ErrNoProcStatus, never 0 bytes and no error.
func TestReadRSSFailsClosed(t *testing.T) {
	defer func(p string) { memmon.ProcStatusPath = p }(memmon.ProcStatusPath)
	memmon.ProcStatusPath = filepath.Join(t.TempDir(), "no-such-status")
	if rss, err := ReadRSS(); !errors.Is(err, memmon.ErrNoProcStatus) || rss != 0 {
		t.Fatalf("ReadRSS without /proc: %d, %v; want an ErrNoProcStatus error", rss, err)
	}
}

// TestMemoryNegativeNoRSS: where RSS cannot be read, every check that
// depends on it fails (the old reader returned 0, which made a 0-byte
// projection pass).
func TestMemoryNegativeNoRSS(t *testing.T) {
	defer func(p string) { memmon.ProcStatusPath = p }(memmon.ProcStatusPath)
	memmon.ProcStatusPath = filepath.Join(t.TempDir(), "no-such-status")
	env := testEnv(t, "memory", nil)
	var r Result
	err := memoryBench(bg, env, &r, tinyMemory(env))
	for _, name := range []string{"rss_measured", "avg_page_bytes", "rss_1m_pages", "reclaim_reuses_memory"} {
		requireFail(t, &r, err, name)
	}
}

// TestMemoryNegativeZeroRSS: a reader that reports 0 bytes without an
// error is not a measurement either.
func TestMemoryNegativeZeroRSS(t *testing.T) {
	env := testEnv(t, "memory", nil)
	cfg := tinyMemory(env)
	cfg.readRSS = func() (int64, error) { return 0, nil }
	var r Result
	err := memoryBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "rss_measured")
	requireFail(t, &r, err, "rss_1m_pages")
}

// TestMemoryNegativeNoPauseHistogram: a runtime without the GC pause
// histogram gives no pause figure; the gate fails rather than passing on
// the 0 it once read as "no pause".
func TestMemoryNegativeNoPauseHistogram(t *testing.T) {
	env := testEnv(t, "memory", nil)
	cfg := tinyMemory(env)
	cfg.readPauses = func() GCPauses { return GCPauses{missing: true} }
	var r Result
	if err := memoryBench(bg, env, &r, cfg); err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(t, &r, "gc_pause_max"); c.Pass { // a timing check: it gates full runs only
		t.Fatalf("gc_pause_max passed without a pause histogram: %+v", c)
	}
}

// fakePauses returns a pause histogram reader whose bucket i (upper edges
// 1 ms, 10 ms, 100 ms, +Inf) counts one more pause at every read: a GC
// whose pauses, in every measured phase, fall in that bucket.
func fakePauses(i int) func() GCPauses {
	var n uint64
	return func() GCPauses {
		n++
		counts := make([]uint64, 4)
		counts[i] = n
		return GCPauses{counts: counts, buckets: []float64{0, 0.001, 0.01, 0.1, math.Inf(1)}}
	}
}

// TestMemoryNegativeLongPause: the measured system made worse, not the
// threshold: the runtime's histogram shows a pause of up to 10 ms in every
// measured phase, over the 3 ms budget, and gc_pause_max fails with 10 ms;
// the control, pauses under 1 ms, passes with 1 ms. (TestTimingGatesCanFail
// feeds the gate an unmeetable threshold instead.)
func TestMemoryNegativeLongPause(t *testing.T) {
	for _, tc := range []struct {
		bucket int
		pass   bool
		ms     float64
	}{{1, false, 10}, {0, true, 1}} {
		env := testEnv(t, "memory", nil)
		cfg := tinyMemory(env)
		cfg.readPauses = fakePauses(tc.bucket)
		var r Result
		if err := memoryBench(bg, env, &r, cfg); err != nil {
			t.Fatal(err)
		}
		if c := checkNamed(t, &r, "gc_pause_max"); c.Pass != tc.pass || c.Value != tc.ms {
			t.Errorf("pauses in bucket %d: gc_pause_max pass %v, value %g ms; want pass %v, %g ms", tc.bucket, c.Pass, c.Value, tc.pass, tc.ms)
		}
	}
}

// TestMemoryPauseOfUnfinishedCycleCharged: a GC cycle that a measured
// phase started and that was still marking when the phase ended has its
// mark termination pause in the collection forced after the phase; the
// phase is charged with it. The fake runtime shows, in every phase, pauses
// under 1 ms in the histogram, and a cycle that completes in the forced
// GC with 10 ms of stop-the-world time, then the forced cycle itself with
// 50 ms: gc_pause_max fails with 10 ms (the forced cycle is not the
// phase's). It passed with 1 ms, the histogram read when the phase ended.
// Reads come in threes per phase: its begin, its end, after the force.
func TestMemoryPauseOfUnfinishedCycleCharged(t *testing.T) {
	env := testEnv(t, "memory", nil)
	cfg := tinyMemory(env)
	var reads uint64
	cfg.readPauses = func() GCPauses {
		phase, step := reads/3, reads%3
		reads++
		g := GCPauses{counts: []uint64{reads, 0, 0, 0}, buckets: []float64{0, 0.001, 0.01, 0.1, math.Inf(1)}}
		g.numGC = uint32(2 * phase)
		if step == 2 { // after the forced GC: the pending cycle, then the forced one
			g.numGC += 2
			g.pauseNs[(g.numGC-2)%256] = uint64(10 * time.Millisecond)
			g.pauseNs[(g.numGC-1)%256] = uint64(50 * time.Millisecond)
		}
		return g
	}
	var r Result
	if err := memoryBench(bg, env, &r, cfg); err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(t, &r, "gc_pause_max"); c.Pass || c.Value != 10 {
		t.Fatalf("a 10 ms cycle finished in the forced GC: gc_pause_max pass %v, value %g ms; want a failure with 10 ms (not 1: the pause missed; not 50: the forced cycle's)", c.Pass, c.Value)
	}
	if reads%3 != 0 || reads < 12 {
		t.Fatalf("%d pause reads, want three per measured phase (4 phases)", reads)
	}
}

// TestMemoryNegativeNoCollection: a histogram that gains no pause in any
// measured phase (no collection ran in them) gives a 0 ms
// maximum that measures nothing; gc_pause_max must fail on it (it passed
// with 0 ms). The control is a real run, which collects while it creates
// its pages: it passes with pauses counted.
func TestMemoryNegativeNoCollection(t *testing.T) {
	env := testEnv(t, "memory", nil)
	cfg := tinyMemory(env)
	still := GCPauses{counts: []uint64{5, 2, 0, 0}, buckets: []float64{0, 0.001, 0.01, 0.1, math.Inf(1)}}
	cfg.readPauses = func() GCPauses { return still }
	var r Result
	if err := memoryBench(bg, env, &r, cfg); err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(t, &r, "gc_pause_max"); c.Pass || r.Metrics["gc_pauses"] != 0 {
		t.Fatalf("no pause in any measured phase: gc_pause_max %+v, gc_pauses %v; want a failure over 0 pauses", c, r.Metrics["gc_pauses"])
	}
	env = testEnv(t, "memory", nil)
	r = Result{}
	if err := memoryBench(bg, env, &r, tinyMemory(env)); err != nil {
		t.Fatal(err)
	}
	// Pauses counted, not the gate passed: how long a pause is depends on
	// the machine's load (5 ms under -race on a busy 2-core host), and
	// tests assert behaviour, not timing.
	if c := checkNamed(t, &r, "gc_pause_max"); r.Metrics["gc_pauses"] == 0 {
		t.Fatalf("control, a real run: gc_pause_max %+v, gc_pauses %v; want some pauses counted", c, r.Metrics["gc_pauses"])
	}
	t.Logf("control: %v pauses, longest <= %v ms", r.Metrics["gc_pauses"], r.Metrics["gc_pause_max_ms"])
}

// TestMemoryPausesWhateverGOGC: a real run under a process GC percent of
// 400 or off still records pauses in its measured phases, which
// gc_pause_max needs (the benchmark runs them with the default collector); the
// percent is the caller's again afterwards. Before, the tiny run
// collected nothing under either, and the quick run nothing under
// GOGC=200: the gate failed as not measured.
func TestMemoryPausesWhateverGOGC(t *testing.T) {
	for _, percent := range []int{400, -1} {
		old := debug.SetGCPercent(percent)
		env := testEnv(t, "memory", nil)
		var r Result
		err := memoryBench(bg, env, &r, tinyMemory(env))
		after := debug.SetGCPercent(old)
		if err != nil {
			t.Fatal(err)
		}
		// Pauses counted, not the gate passed (a pause's length is timing).
		if c := checkNamed(t, &r, "gc_pause_max"); r.Metrics["gc_pauses"] == 0 {
			t.Errorf("GC percent %d: gc_pause_max %+v, gc_pauses %v; want some pauses counted", percent, c, r.Metrics["gc_pauses"])
		}
		if after != percent {
			t.Errorf("GC percent %d before the run, %d after it", percent, after)
		}
	}
}

// TestMemoryNegativeOverBudget: the process holds 4 KiB more per page (what
// a bus leaking per-page memory would hold); RSS shows it, so the average
// page cost and the 1M-page projection exceed their budgets.
func TestMemoryNegativeOverBudget(t *testing.T) {
	env := testEnv(t, "memory", nil)
	cfg := tinyMemory(env)
	cfg.ballastPerPage = 4096
	var r Result
	err := memoryBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "avg_page_bytes")
	requireFail(t, &r, err, "rss_1m_pages")
	if c := checkNamed(t, &r, "rss_measured"); !c.Pass {
		t.Fatalf("RSS not measured: %+v", c)
	}
}

// TestMarginalIgnoresOneStep: a one-off RSS step in one third does not
// move the marginal cost per page, while a cost every page pays does (the
// control: 4 KiB more per page in every third is seen in full).
func TestMarginalIgnoresOneStep(t *testing.T) {
	const pages = 99_000
	perPage := func(b int64) memoryOutcome {
		third := int64(pages / 3)
		return memoryOutcome{rssThirds: [2]int64{b * third, 2 * b * third}, rss: b * pages}
	}
	clean := perPage(1045)
	if got := marginalPerPage(clean, pages); got != 1045 {
		t.Fatalf("marginal of a steady 1045 B/page: %v", got)
	}
	for k := range 2 {
		stepped := clean
		if k == 0 {
			stepped.rssThirds[1] += 3 << 20
		}
		stepped.rss += 3 << 20
		if got := marginalPerPage(stepped, pages); got != 1045 {
			t.Errorf("a 3 MB step in third %d moved the marginal to %v B/page", k+2, got)
		}
	}
	if got := marginalPerPage(perPage(1045+4096), pages); got != 1045+4096 {
		t.Fatalf("4 KiB more per page in every third: marginal %v, want %d", got, 1045+4096)
	}
}

// TestPhasePausesLeaveOutTheForcedGC: PhasePauses, with the runtime's own
// figures, charges a phase in which no collection ran with nothing: not
// the pauses of the GC it forces to finish a cycle still marking, nor of
// one run after the phase (to read RSS: tests/stress read its figure
// after its forced collections, and charged them), and it is charged
// with a collection that ran in the phase. It allocates nothing between
// the settling GC and its end that could start a cycle; a goroutine left
// by another test might, so an empty phase is tried up to five times, and
// one charged with nothing passes.
func TestPhasePausesLeaveOutTheForcedGC(t *testing.T) {
	var longest time.Duration
	var n uint64
	for range 5 {
		runtime.GC()
		begin := ReadGCPauses()
		var known bool
		if longest, n, known = PhasePauses(begin); !known {
			t.Skip("the runtime reports no GC pause histogram")
		}
		if n == 0 && longest == 0 {
			break
		}
	}
	if n != 0 || longest != 0 {
		t.Fatalf("a phase without a collection charged with %d pauses, the longest %v: the forced GC's", n, longest)
	}
	begin := ReadGCPauses()
	runtime.GC() // in the phase
	if longest, n, _ := PhasePauses(begin); n < 2 || longest <= 0 {
		t.Fatalf("a phase with a collection charged with %d pauses, the longest %v; want its two (sweep and mark termination)", n, longest)
	}
}
