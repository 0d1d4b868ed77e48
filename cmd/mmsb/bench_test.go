package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// smallBench are flags for a bench that runs in milliseconds.
var smallBench = []string{"bench", "--pages", "64", "--page-size", "128", "--delta-size", "16",
	"--batch", "10", "--count", "500", "--no-progress"}

func benchJSON(t *testing.T, extra ...string) benchResult {
	t.Helper()
	args := append(slices.Clone(smallBench), "--json")
	r := runCLI(t, append(args, extra...)...).mustCode(t, exitOK)
	var res benchResult
	r.decodeJSON(t, &res)
	return res
}

func TestBenchJSON(t *testing.T) {
	res := benchJSON(t)
	if !res.ReplayChecked || !res.ReplayEqual {
		t.Fatalf("replay_checked=%v replay_equal=%v, want both true (differences %v)", res.ReplayChecked, res.ReplayEqual, res.ReplayDifferences)
	}
	if res.Deltas != 500 || res.Batches != 50 || res.Pages != 64 || res.Sync != "group" || !res.InMemory {
		t.Fatalf("workload not echoed: %+v", res)
	}
	if res.DeltasPerSec <= 0 || res.MBPerSec <= 0 || res.LatencyP50NS <= 0 || res.LatencyP99NS < res.LatencyP50NS || res.LatencyMaxNS < res.LatencyP99NS {
		t.Fatalf("implausible measurements: %+v", res)
	}
	// 64 page creations + 500 deltas, one LSN each.
	if res.LastLSN != 564 {
		t.Fatalf("last_lsn %d, want 564", res.LastLSN)
	}
	if runtime.GOOS == "linux" && (res.RSSBytes <= 0 || res.RSSPeakBytes < res.RSSBytes) {
		t.Fatalf("rss_bytes %d, rss_peak_bytes %d", res.RSSBytes, res.RSSPeakBytes)
	}
}

func TestBenchDeterministic(t *testing.T) {
	a := benchJSON(t, "--seed", "7")
	b := benchJSON(t, "--seed", "7")
	c := benchJSON(t, "--seed", "8")
	if a.StateHash != b.StateHash {
		t.Fatalf("same seed, different states: %s vs %s", a.StateHash, b.StateHash)
	}
	if a.StateHash == c.StateHash {
		t.Fatalf("different seeds, same state %s", a.StateHash)
	}
	// Workers inside the bus must not change the result.
	w := benchJSON(t, "--seed", "7", "--workers", "4", "--batch", "100")
	s := benchJSON(t, "--seed", "7", "--workers", "1", "--batch", "100")
	if w.StateHash != s.StateHash {
		t.Fatalf("--workers 4 state %s != --workers 1 state %s", w.StateHash, s.StateHash)
	}
}

func TestBenchOnDiskConcurrent(t *testing.T) {
	for _, mode := range []string{"group", "always", "none"} {
		t.Run(mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bench")
			res := benchJSON(t, "--dir", dir, "--sync", mode, "--concurrency", "4")
			if !res.ReplayEqual || res.InMemory || res.Concurrency != 4 || res.Sync != mode {
				t.Fatalf("%+v", res)
			}
			if res.LogBytes == 0 {
				t.Fatal("on-disk bench wrote no log")
			}
			// The directory it leaves behind is a valid bus.
			runCLI(t, "check", dir).mustCode(t, exitOK)
		})
	}
}

func TestBenchPipelined(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	res := benchJSON(t, "--dir", dir, "--sync", "group", "--pipeline", "4", "--concurrency", "2")
	if !res.ReplayEqual || res.Pipeline != 4 || res.Deltas == 0 {
		t.Fatalf("%+v", res)
	}
	runCLI(t, "check", dir).mustCode(t, exitOK)
	// Same seed, same state, with or without pipelining.
	a := benchJSON(t, "--pipeline", "3")
	b := benchJSON(t)
	if a.StateHash != b.StateHash {
		t.Fatalf("pipelined run reached state %s, plain run %s", a.StateHash, b.StateHash)
	}
}

func TestBenchCreateOnlyAndText(t *testing.T) {
	res := benchJSON(t, "--create-only", "--pages", "300")
	if !res.CreateOnly || res.Deltas != 0 || res.LastLSN != 300 || res.PagesPerSec <= 0 || !res.ReplayEqual {
		t.Fatalf("%+v", res)
	}
	r := runCLI(t, smallBench...).mustCode(t, exitOK)
	for _, want := range []string{"throughput", "deltas/s", "latency", "RSS", "max pause", "equal to the live state"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, append(slices.Clone(smallBench), "--no-verify")...).mustCode(t, exitOK)
	if !strings.Contains(r.stdout, "not checked") {
		t.Errorf("--no-verify output:\n%s", r.stdout)
	}
}

func TestBenchBadFlags(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--pages", "0"}, "--pages"},
		{[]string{"--page-size", "0"}, "--page-size"},
		{[]string{"--delta-size", "200"}, "--delta-size"},
		{[]string{"--batch", "0"}, "--batch"},
		{[]string{"--count", "-1"}, "--count"},
		{[]string{"--workers", "0"}, "--workers"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--sync", "sometimes"}, "--sync"},
		{[]string{"--dir", full}, "not empty"},
		{[]string{"--stall-causes", "--concurrency", "2"}, "--stall-causes"},
		{[]string{"--stall-causes", "--pipeline", "2"}, "--stall-causes"},
		{[]string{"--stall-threads"}, "--stall-threads needs --stall-causes"},
		{[]string{"--sync-floor", "10"}, "--sync-floor"},
		{[]string{"--sync-floor", "-1", "--dir", full}, "--sync-floor"},
		{[]string{"extra-arg"}, "unknown command"},
		// Flags a workload does not read, and a growth run of nothing:
		// each ran and exited 0 (the growth one printing rates of 0).
		{[]string{"--workload", "growth", "--count", "0"}, "--count must be at least 1 with --workload growth"},
		{[]string{"--workload", "tick", "--create-only"}, "--create-only"},
		{[]string{"--plot", full}, "--plot"},
		// A non-empty --dir, refused after --readers is checked: were the
		// bound gone, the bench fails at once on --dir instead of forking
		// 100,000 readers (a control run without the bound did).
		{[]string{"--shared", "--dir", full, "--readers", "100000"}, "at most 256 reader processes"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := slices.Clone(smallBench)
			if tc.args[0] == "--workload" {
				// smallBench's flags of the commit workload are refused
				// by another (TestBenchFlagsOfOtherWorkloadsRefused).
				args = []string{"bench", "--no-progress"}
			}
			r := runCLI(t, append(args, tc.args...)...).mustCode(t, exitUsage)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.want)
			}
		})
	}
	if names, _ := os.ReadDir(full); len(names) != 1 {
		t.Fatalf("bench touched a non-empty --dir: %v", names)
	}
}

// The workload generator must not allocate per batch or per delta.
func TestBenchFillAllocs(t *testing.T) {
	ids := []mmsb.PageID{1, 2, 3, 4}
	w := newBenchWorker(100, 13)
	var b uint64
	allocs := testing.AllocsPerRun(100, func() {
		ds := w.fill(1, b, 100, ids, 64)
		b++
		if len(ds) != 100 {
			t.Fatal("short batch")
		}
	})
	if allocs != 0 {
		t.Fatalf("fill allocates %.1f times per batch", allocs)
	}
}

func TestBenchFillValidAndSeeded(t *testing.T) {
	ids := []mmsb.PageID{10, 20, 30}
	const pageSize, deltaSize = 40, 7
	w := newBenchWorker(50, deltaSize)
	first := w.fill(3, 9, 50, ids, pageSize)
	snapshot := make([]string, len(first))
	for i, d := range first {
		if !slices.Contains(ids, d.Page) || len(d.Runs) != 1 || len(d.Runs[0].Data) != deltaSize ||
			int(d.Runs[0].Offset)+deltaSize > pageSize {
			t.Fatalf("delta %d invalid: %+v", i, d)
		}
		snapshot[i] = string(d.Runs[0].Data) + string(rune(d.Runs[0].Offset)) + string(rune(d.Page))
	}
	w.fill(3, 10, 50, ids, pageSize) // another batch in between
	again := newBenchWorker(50, deltaSize).fill(3, 9, 50, ids, pageSize)
	for i, d := range again {
		if got := string(d.Runs[0].Data) + string(rune(d.Runs[0].Offset)) + string(rune(d.Page)); got != snapshot[i] {
			t.Fatalf("batch (seed 3, 9) delta %d differs between workers", i)
		}
	}
	short := w.fill(3, 11, 5, ids, pageSize)
	if len(short) != 5 {
		t.Fatalf("short batch has %d deltas", len(short))
	}
}

// TestBenchFillConsecutive: with consecutive page IDs fill computes the
// k-th instead of loading it, and must pick the very pages the load would
// have: the same batch drawn over IDs whose last one is moved (so that
// fill takes the loading path) differs only where that page was picked.
// Control: an off-by-one in the computed ID fails it at once.
func TestBenchFillConsecutive(t *testing.T) {
	const n = 1000
	ids := make([]mmsb.PageID, n)
	for i := range ids {
		ids[i] = mmsb.PageID(100 + i)
	}
	moved := slices.Clone(ids)
	moved[n-1] = 5000
	computed := slices.Clone(newBenchWorker(n, 8).fill(7, 3, n, ids, 64))
	loaded := newBenchWorker(n, 8).fill(7, 3, n, moved, 64)
	last := 0
	for i := range computed {
		want := computed[i].Page
		if want == ids[n-1] {
			want, last = 5000, last+1
		}
		if loaded[i].Page != want || computed[i].Page < ids[0] || computed[i].Page > ids[n-1] {
			t.Fatalf("delta %d: computed page %d, loaded %d", i, computed[i].Page, loaded[i].Page)
		}
	}
	t.Logf("%d deltas, %d to the moved page", n, last)
}

func TestLatencyBuckets(t *testing.T) {
	// Every value maps into a bucket whose midpoint is within 1/16.
	for _, v := range []uint64{0, 1, 15, 16, 17, 31, 32, 33, 1000, 123456789, 1 << 40, 1<<63 - 1} {
		i := latencyBucket(v)
		if i < 0 || i >= latencyBuckets {
			t.Fatalf("value %d -> bucket %d out of range", v, i)
		}
		mid := uint64(latencyBucketMid(i))
		diff := max(mid, v) - min(mid, v)
		if v >= 16 && float64(diff) > float64(v)/16 || v < 16 && diff != 0 {
			t.Errorf("value %d: bucket %d midpoint %d", v, i, mid)
		}
	}
	// Buckets are monotone.
	prev := 0
	for v := uint64(0); v < 100000; v += 7 {
		if i := latencyBucket(v); i < prev {
			t.Fatalf("bucket of %d is %d < %d", v, i, prev)
		} else {
			prev = i
		}
	}
}

func TestLatencyQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h, h2 latencyHist
	vals := make([]int64, 10000)
	for i := range vals {
		vals[i] = int64(rng.ExpFloat64() * 1e6)
		if i%2 == 0 {
			h.record(vals[i])
		} else {
			h2.record(vals[i])
		}
	}
	h.merge(&h2)
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 1} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.quantile(q)
		if d := float64(got - exact); d > float64(exact)/16+1 || -d > float64(exact)/16+1 {
			t.Errorf("q%.2f = %d, exact %d", q, got, exact)
		}
	}
	if h.max != vals[len(vals)-1] {
		t.Errorf("max %d, want %d", h.max, vals[len(vals)-1])
	}
	var empty latencyHist
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram quantile not 0")
	}
}

func TestGCPauseMax(t *testing.T) {
	var before, after gcState
	before.numGC = 10
	after.numGC = 13
	after.pauseNs[(13+255)%256] = 500 // most recent
	after.pauseNs[(12+255)%256] = 900
	after.pauseNs[(11+255)%256] = 100
	after.pauseNs[(10+255)%256] = 99999 // before the window
	got, cycles := gcPauseMax(before, after)
	if got != 900 || cycles != 3 {
		t.Fatalf("gcPauseMax = %d over %d cycles, want 900 over 3", got, cycles)
	}
	if got, cycles := gcPauseMax(after, after); got != 0 || cycles != 0 {
		t.Fatalf("no cycles: %d, %d", got, cycles)
	}
	// A real snapshot pair around a forced GC reports it.
	s0 := readGCState()
	runtime.GC()
	if _, cycles := gcPauseMax(s0, readGCState()); cycles < 1 {
		t.Fatal("forced GC not counted")
	}
}

func BenchmarkBenchFill(b *testing.B) {
	ids := make([]mmsb.PageID, 65536)
	for i := range ids {
		ids[i] = mmsb.PageID(i + 1)
	}
	w := newBenchWorker(1000, 16)
	b.ReportAllocs()
	b.SetBytes(1000 * 16)
	for i := 0; b.Loop(); i++ {
		w.fill(1, uint64(i), 1000, ids, 1024)
	}
}

func TestBenchGrowth(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, "bench", "--workload", "growth", "--growth-pages", "64,256", "--growth-batches", "1,50",
		"--growth-batch-pages", "128", "--page-size", "128", "--count", "2000", "--checkpoint-bytes", "-1",
		"--plot", dir, "--json", "--no-progress").mustCode(t, exitOK)
	var res growthResult
	r.decodeJSON(t, &res)
	if len(res.ByPages) != 2 || len(res.ByBatch) != 2 {
		t.Fatalf("want 2 points per sweep, got %d and %d", len(res.ByPages), len(res.ByBatch))
	}
	for _, p := range append(res.ByPages, res.ByBatch...) {
		if p.DeltasPerSec <= 0 || p.BareDeltasPerSec <= 0 || p.Ratio <= 0 || p.LatencyMaxNS < p.LatencyP99NS || p.Deltas != min(2000, int64(p.Batch)*20_000) {
			t.Fatalf("implausible point %+v", p)
		}
	}
	if res.ByPages[1].Pages != 256 || res.ByBatch[1].Batch != 50 || res.ByBatch[0].Pages != 128 {
		t.Fatalf("sweeps not as asked: %+v", res)
	}
	if len(res.Charts) != 4 {
		t.Fatalf("charts %v, want 4", res.Charts)
	}
	for _, c := range res.Charts {
		b, err := os.ReadFile(c)
		if err != nil || len(b) < 8 || string(b[1:4]) != "PNG" {
			t.Fatalf("chart %s is not a PNG (%v)", c, err)
		}
	}
	// Bad sweeps are usage errors.
	runCLI(t, "bench", "--workload", "growth", "--growth-pages", "64,x", "--no-progress").mustCode(t, exitUsage)
	runCLI(t, "bench", "--workload", "growth", "--growth-batches", "0", "--no-progress").mustCode(t, exitUsage)
}

// TestBenchStallTrace: a threshold every commit exceeds writes a trace; one
// no commit reaches (the negative control) writes none.
func TestBenchStallTrace(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		threshold string
		want      bool
	}{{"0s", true}, {"1h", false}} {
		path := filepath.Join(dir, "stall-"+tc.threshold+".trace")
		res := benchJSON(t, "--stall-trace", path, "--stall-threshold", tc.threshold)
		st, err := os.Stat(path)
		written := err == nil && st.Size() > 0
		if written != tc.want || (res.StallTrace == path) != tc.want {
			t.Fatalf("threshold %s: trace written %v, stall_trace %q; want written %v", tc.threshold, written, res.StallTrace, tc.want)
		}
	}
}

// TestBenchCheckpointLatencySplit: commits that overlapped a checkpoint
// are reported apart. Without automatic checkpoints none are (the
// negative control); with a checkpoint every 4 KiB of log the figures are
// consistent. Whether a given commit overlaps one depends on scheduling,
// so the count is only bounded here; CheckpointRunning itself is tested
// deterministically in the root package (TestCheckpointRunning).
func TestBenchCheckpointLatencySplit(t *testing.T) {
	none := benchJSON(t, "--checkpoint-bytes", "-1")
	if none.CheckpointCommits != 0 || none.CheckpointP99NS != 0 || none.Checkpoints != 0 {
		t.Fatalf("no checkpoint ran, yet %d commits overlapped one (p99 %d, %d checkpoints)", none.CheckpointCommits, none.CheckpointP99NS, none.Checkpoints)
	}
	// bench waits for an automatic checkpoint started by any of its
	// commits (CheckpointRunning counts one from the commit that starts
	// it: TestCheckpointRunningAutomatic), so a short load counts it too.
	// Before, it waited only for one being written, and a 20,000-delta
	// load once ended before its checkpoint got there (an invariants
	// build under CI).
	res := benchJSON(t, "--count", "20000", "--checkpoint-bytes", "4096")
	if res.Checkpoints == 0 {
		t.Fatal("no automatic checkpoint ran")
	}
	if res.CheckpointCommits > uint64(res.Batches) {
		t.Fatalf("%d commits overlapped a checkpoint, of %d", res.CheckpointCommits, res.Batches)
	}
	if res.CheckpointCommits > 0 && (res.CheckpointP50NS <= 0 || res.CheckpointP99NS < res.CheckpointP50NS ||
		res.CheckpointMaxNS < res.CheckpointP99NS || res.CheckpointMaxNS > res.LatencyMaxNS) {
		t.Fatalf("implausible checkpoint latencies: %+v", res)
	}
	t.Logf("%d checkpoints, %d of %d commits overlapped one", res.Checkpoints, res.CheckpointCommits, res.Batches)
}
