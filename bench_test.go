package mmsb

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/delta"
)

// benchCommit commits batches of 16-byte deltas over 65,536 pages of 1 KiB.
var histEntries, segBytes = 0, int64(0)

// benchNoLog makes benchCommit open its bus with DisableLog.
var benchNoLog bool

// benchShared, when set, runs benchCommit's bus in shared mode.
var benchShared = ""

func benchCommit(b *testing.B, dir string, sync SyncMode, workers, batch int) {
	e, err := Open(dir, &Options{SegmentBytes: segBytes, Sync: sync, Workers: workers, CheckpointBytes: -1, HistoryEntries: histEntries,
		Shared: benchShared != "", SharedDir: benchShared, DisableLog: benchNoLog})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const pages, pageSize, size = 65536, 1024, 16
	benchPages(b, e, pages, pageSize)
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]delta.Delta, batch)
	runs := make([]delta.Run, batch)
	data := make([]byte, batch*size)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	b.SetBytes(size * int64(batch))
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		fillBatch(rng, ds, runs, data, pages, pageSize, size)
		if _, err := e.Commit(ctx, ds); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deltas/s")
}

func BenchmarkCommitMemory(b *testing.B)   { benchCommit(b, "", SyncNone, 1, 1000) }
func BenchmarkCommitMemory2W(b *testing.B) { benchCommit(b, "", SyncNone, 2, 1000) }

// BenchmarkCommitMemoryWorkers is issue 15 item 4's ratio measured side by
// side: the workload of BenchmarkCommitMemory committed to two in-memory
// buses, one with one apply worker and one with two, in alternating slices
// of workersSlice batches, so that both see the same phases of a shared
// machine. Run apart, CommitMemory and CommitMemory2W gave ratios of
// 1.37-2.61 between rounds on the 2-core VM (docs/benchmarks.md), the
// machine's speed changing between the two runs. It reports each bus's
// deltas/s and x2W, their ratio, and the cores each bus kept busy
// (cores-1W, cores-2W: the process's CPU time over wall time during that
// bus's slices). A one-worker bus that already keeps more than one core
// busy (its log's toucher, the garbage collector) caps x2W at 2 over its
// cores on a 2-core machine, whatever the apply does. Each bus is given
// the same batches; the two states must hash equal at the end (a worker
// count never changes the state).
func BenchmarkCommitMemoryWorkers(b *testing.B) { benchWorkers(b, memDir) }

// BenchmarkCommitDiskWorkers is BenchmarkCommitMemoryWorkers with each
// bus's log in a directory (SyncNone): the log's memory is the kernel's
// page cache, which the bus reuses, instead of an in-memory log's new
// memory that one worker's toucher spends most of the second core on.
func BenchmarkCommitDiskWorkers(b *testing.B) { benchWorkers(b, b.TempDir) }

// BenchmarkCommitMemorySplit and BenchmarkCommitDiskSplit measure the
// split of a pipelined batch (stampSplit) side by side, as the Workers
// benchmarks measure worker counts: both buses have two workers, the
// first with the helper pinned to every batch's whole (fixedShare 64: the
// pipeline before the split), the second with the adaptive split. Their
// ratio is reported as x2W (here: split over unsplit); the states must
// hash equal. BenchmarkCommitNoLogSplit is the same without a log, where
// the helper, not the committer, is the bottleneck.
func BenchmarkCommitMemorySplit(b *testing.B) { benchSides(b, memDir, splitSides, false) }
func BenchmarkCommitDiskSplit(b *testing.B)   { benchSides(b, b.TempDir, splitSides, false) }
func BenchmarkCommitNoLogSplit(b *testing.B)  { benchSides(b, memDir, splitSides, true) }

// BenchmarkCommitMemoryDepth and BenchmarkCommitDiskDepth measure the
// pipeline's depth side by side: both buses have two workers, the first
// with at most one batch waiting for the helper (a commit waits for the
// previous batch's apply), the second with pipeDepth. x2W is the second
// over the first; the states must hash equal.
func BenchmarkCommitMemoryDepth(b *testing.B) { benchSides(b, memDir, depthSides, false) }
func BenchmarkCommitDiskDepth(b *testing.B)   { benchSides(b, b.TempDir, depthSides, false) }

// memDir is benchSides' directory for an in-memory bus.
func memDir() string { return "" }

// workerSides, splitSides and depthSides configure benchSides' two
// buses: workers, the helper's pinned share (-1: adaptive) and the
// pipeline's depth.
var (
	workerSides = [2][3]int{{1, -1, pipeDepth}, {2, -1, pipeDepth}}
	splitSides  = [2][3]int{{2, 64, pipeDepth}, {2, -1, pipeDepth}}
	depthSides  = [2][3]int{{2, -1, 1}, {2, -1, pipeDepth}}
)

func benchWorkers(b *testing.B, dir func() string) { benchSides(b, dir, workerSides, false) }

func benchSides(b *testing.B, dir func() string, config [2][3]int, noLog bool) {
	const pages, pageSize, size, batch = 65536, 1024, 16, 1000
	type side struct {
		e   *Bus
		rng *rand.Rand
		t   time.Duration
		cpu time.Duration
	}
	var sides [2]side
	for k := range sides {
		e, err := Open(dir(), &Options{Sync: SyncNone, Workers: config[k][0], CheckpointBytes: -1, DisableLog: noLog})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		e.applier.fixedShare, e.applier.depth = config[k][1], config[k][2]
		benchPages(b, e, pages, pageSize)
		sides[k] = side{e: e, rng: rand.New(rand.NewPCG(1, 2))}
	}
	ds := make([]delta.Delta, batch)
	runs := make([]delta.Run, batch)
	data := make([]byte, batch*size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.SetBytes(2 * size * batch)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += workersSlice {
		m := min(workersSlice, b.N-done)
		for k := range sides {
			s := &sides[k]
			t0, cpu0 := time.Now(), processCPU(b)
			for i := 0; i < m; i++ {
				fillBatch(s.rng, ds, runs, data, pages, pageSize, size)
				if _, err := s.e.Commit(ctx, ds); err != nil {
					b.Fatal(err)
				}
			}
			s.e.LastLSN() // a pipelined apply still running is this side's time
			s.t += time.Since(t0)
			s.cpu += processCPU(b) - cpu0
		}
	}
	b.StopTimer()
	one := float64(b.N*batch) / sides[0].t.Seconds()
	two := float64(b.N*batch) / sides[1].t.Seconds()
	b.ReportMetric(one, "deltas/s-1W")
	b.ReportMetric(two, "deltas/s-2W")
	b.ReportMetric(two/one, "x2W")
	if sides[0].cpu > 0 { // processCPU is 0 where the platform has no getrusage
		b.ReportMetric(sides[0].cpu.Seconds()/sides[0].t.Seconds(), "cores-1W")
		b.ReportMetric(sides[1].cpu.Seconds()/sides[1].t.Seconds(), "cores-2W")
	}
	// The part of each pipelined batch the two-worker bus's helper applies
	// at the end (stampSplit; the committer applies the rest).
	b.ReportMetric(float64(sides[1].e.applier.share)/64, "helper-share")
	if h1, h2 := hashOf(b, sides[0].e), hashOf(b, sides[1].e); h1 != h2 {
		b.Fatalf("one worker and two workers reached different states: %x, %x", h1, h2)
	}
}

// workersSlice is how many batches BenchmarkCommitMemoryWorkers commits to
// one bus before it turns to the other: long enough (about 20 ms) that the
// idle bus's helper has parked (it polls at most maxIdleSpin), short
// enough that both buses see the same phases of the machine.
const workersSlice = 100

func BenchmarkCommitDiskGroup(b *testing.B) {
	benchCommit(b, b.TempDir(), SyncGroup, 1, 1000)
}
func BenchmarkCommitDiskAlways1(b *testing.B) {
	benchCommit(b, b.TempDir(), SyncAlways, 1, 1)
}

// The commit path without a log: what the engine itself costs, without
// the growth of an in-memory log that checkpoints never trim (each new
// 4 KiB of it cost ~7 µs at its first write on a 2-core AMD EPYC VM,
// whatever was pre-faulted: docs/benchmarks.md).
func BenchmarkCommitMemoryNoLog(b *testing.B)   { benchCommitNoLog(b, 1) }
func BenchmarkCommitMemoryNoLog2W(b *testing.B) { benchCommitNoLog(b, 2) }

func benchCommitNoLog(b *testing.B, workers int) {
	benchNoLog = true
	defer func() { benchNoLog = false }()
	benchCommit(b, "", SyncNone, workers, 1000)
}

func BenchmarkCommitMemoryNoHist(b *testing.B) {
	histEntries = -1
	defer func() { histEntries = 0 }()
	benchCommit(b, "", SyncNone, 1, 1000)
}

func BenchmarkCommitMemorySeg8M(b *testing.B) {
	segBytes = 8 << 20
	defer func() { segBytes = 0 }()
	benchCommit(b, "", SyncNone, 1, 1000)
}

// BenchmarkReplay measures replaying 1M logged 16-byte deltas into a fresh
// bus (the recovery path); reports deltas/s.
func BenchmarkReplay(b *testing.B) {
	e, err := Open("", &Options{Sync: SyncNone, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const pages, pageSize, size, batch, total = 65536, 1024, 16, 1000, 1_000_000
	benchPages(b, e, pages, pageSize)
	commitRandom(b, e, total, batch, pages, pageSize, size)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		r, err := e.Replay(ctx, ReplayTarget{FromEmpty: true})
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
	b.ReportMetric(float64(b.N*total)/b.Elapsed().Seconds(), "deltas/s")
}

func BenchmarkCommitMemoryBatch4k(b *testing.B)   { benchCommit(b, "", SyncNone, 1, 4000) }
func BenchmarkCommitMemory2WBatch4k(b *testing.B) { benchCommit(b, "", SyncNone, 2, 4000) }

// BenchmarkCommitDiskGroupAsync commits from one goroutine on disk with
// group sync, keeping up to 4 batches in flight (CommitAsync, then
// WaitDurable of the batch 4 back): fsyncs overlap building the next batch.
func BenchmarkCommitDiskGroupAsync(b *testing.B) {
	e, err := Open(b.TempDir(), &Options{Sync: SyncGroup, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const pages, pageSize, size, batch, depth = 65536, 1024, 16, 1000, 4
	benchPages(b, e, pages, pageSize)
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]delta.Delta, batch)
	runs := make([]delta.Run, batch)
	data := make([]byte, batch*size)
	var inflight [depth]LSN
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		fillBatch(rng, ds, runs, data, pages, pageSize, size)
		info, err := e.CommitAsync(ctx, ds)
		if err != nil {
			b.Fatal(err)
		}
		if old := inflight[n%depth]; old != 0 {
			if err := e.WaitDurable(ctx, old); err != nil {
				b.Fatal(err)
			}
		}
		inflight[n%depth] = info.LastLSN
	}
	if err := e.WaitDurable(ctx, e.LastLSN()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deltas/s")
	b.ReportMetric(float64(e.Stats().Log.Syncs)/float64(b.N), "fsyncs/batch")
}

func BenchmarkCommitMemoryBatch10k(b *testing.B)   { benchCommit(b, "", SyncNone, 1, 10000) }
func BenchmarkCommitMemory2WBatch10k(b *testing.B) { benchCommit(b, "", SyncNone, 2, 10000) }

// BenchmarkCheckpointWhileCommitting takes a checkpoint of 65,536 random
// 1 KiB pages (on disk) while one goroutine keeps committing batches of
// 1,000 16-byte deltas; it reports the checkpoint's duration, the commits
// that ran meanwhile and their longest latency (copy on write keeps commits
// going).
func BenchmarkCheckpointWhileCommitting(b *testing.B) {
	e, rng := benchFullPages(b, b.TempDir(), 0)
	defer e.Close()
	w := commitWhile(b, e, rng, func() error { _, err := e.Checkpoint(ctx); return err })
	b.ReportMetric(float64(w.total.Milliseconds())/float64(b.N), "ckpt-ms")
	b.ReportMetric(float64(w.commits)/float64(b.N), "commits/ckpt")
	b.ReportMetric(float64(w.worst.Microseconds()), "max-commit-µs")
}

// BenchmarkVerifyReplayWhileCommitting runs VerifyReplay over 65,536 pages
// of 1 KiB and 2M logged deltas while one goroutine commits batches of
// 1,000: how long a commit waits for it (it held the bus's lock for the
// whole replay until 2026-12-04). The bus is in memory, so that the log's
// segment rotations (an fsync of 64 MiB every quarter second on disk under
// SyncNone) do not hide what VerifyReplay costs a commit.
func BenchmarkVerifyReplayWhileCommitting(b *testing.B) {
	e, rng := benchFullPages(b, "", 2_000_000)
	defer e.Close()
	w := commitWhile(b, e, rng, func() error {
		rep, err := e.VerifyReplay(ctx, false)
		if err == nil && !rep.Equal() {
			err = fmt.Errorf("replay differs: %v", rep.Differences)
		}
		return err
	})
	b.ReportMetric(float64(w.total.Milliseconds())/float64(b.N), "verify-ms")
	b.ReportMetric(float64(w.commits)/float64(b.N), "commits/verify")
	b.ReportMetric(float64(w.p99.Microseconds()), "p99-commit-µs")
	b.ReportMetric(float64(w.worst.Microseconds()), "max-commit-µs")
}

// benchFullPages opens a bus in dir ("": in memory; SyncNone, no
// automatic checkpoints) of 65,536 pages of 1 KiB, writes every page whole,
// then commits small random deltas in batches of 1,000.
func benchFullPages(b *testing.B, dir string, small int) (*Bus, *rand.Rand) {
	e, err := Open(dir, &Options{Sync: SyncNone, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	const pages = 65536
	benchPages(b, e, pages, 1024)
	rng := rand.New(rand.NewPCG(3, 3))
	full := make([]byte, 1024)
	for i := range full {
		full[i] = byte(rng.Uint32())
	}
	var ds []delta.Delta
	for id := 1; id <= pages; id++ {
		ds = append(ds, delta.Delta{Page: PageID(id), Runs: []delta.Run{{Data: full}}})
		if len(ds) == 1024 {
			if _, err := e.Commit(ctx, ds); err != nil {
				b.Fatal(err)
			}
			ds = ds[:0]
		}
	}
	commitRandom(b, e, small, 1000, pages, 1024, 16)
	return e, rng
}

// commitsWhile is what commitWhile measured.
type commitsWhile struct {
	worst, p99, total time.Duration
	commits           int
}

// commitWhile runs op b.N times, each on its own goroutine while this one
// commits batches of 1,000 16-byte deltas to random pages of the 65,536 of
// benchFullPages: the longest commit, the 99th percentile (nearest rank),
// the number of commits and the time op took in all.
func commitWhile(b *testing.B, e *Bus, rng *rand.Rand, op func() error) commitsWhile {
	const pages = 65536
	small := make([]byte, 16)
	batch := make([]delta.Delta, 1000)
	runs := make([]delta.Run, 1000)
	var w commitsWhile
	var lat []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		done := make(chan error, 1)
		t0 := time.Now()
		go func() { done <- op() }()
		for running := true; running; {
			select {
			case err := <-done:
				if err != nil {
					b.Fatal(err)
				}
				running = false
				continue
			default:
			}
			for i := range batch {
				runs[i] = delta.Run{Offset: uint32(rng.IntN(1000)), Data: small}
				batch[i] = delta.Delta{Page: PageID(1 + rng.IntN(pages)), Runs: runs[i : i+1]}
			}
			c0 := time.Now()
			if _, err := e.Commit(ctx, batch); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(c0))
		}
		w.total += time.Since(t0)
	}
	b.StopTimer()
	w.commits = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		w.worst = lat[len(lat)-1]
		w.p99 = lat[(len(lat)*99+99)/100-1]
	}
	return w
}

// benchPages creates n pages of size bytes.
func benchPages(b *testing.B, e *Bus, n, size int) {
	b.Helper()
	specs := make([]PageSpec, n)
	for i := range specs {
		specs[i] = PageSpec{Size: size}
	}
	if _, err := e.CreatePages(ctx, specs); err != nil {
		b.Fatal(err)
	}
}

// fillBatch makes ds a batch of size-byte deltas (slices of data) at random
// offsets of random pages among pages pages of pageSize bytes, reusing runs.
// commitRandom commits total random deltas of size bytes, in batches of
// batch, to pages of pageSize bytes (IDs 1..pages).
func commitRandom(b *testing.B, e *Bus, total, batch, pages, pageSize, size int) {
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]delta.Delta, batch)
	runs := make([]delta.Run, batch)
	data := make([]byte, batch*size)
	for n := 0; n < total/batch; n++ {
		fillBatch(rng, ds, runs, data, pages, pageSize, size)
		if _, err := e.Commit(ctx, ds); err != nil {
			b.Fatal(err)
		}
	}
}

func fillBatch(rng *rand.Rand, ds []delta.Delta, runs []delta.Run, data []byte, pages, pageSize, size int) {
	for i := range ds {
		runs[i] = delta.Run{Offset: uint32(rng.IntN(pageSize - size)), Data: data[i*size : (i+1)*size]}
		ds[i] = delta.Delta{Page: PageID(1 + rng.IntN(pages)), Runs: runs[i : i+1]}
	}
}

// BenchmarkReadPageAt reads one page as of the last LSN of a bus of 65,536
// pages of 1 KiB, checkpointed and then written 100,000 times: ReadPageAt
// (a replay of that page alone) next to a replay of the whole bus read
// afterwards, which is what ReadPageAt did before. B/op shows the memory.
func BenchmarkReadPageAt(b *testing.B) {
	e, err := Open(b.TempDir(), &Options{Sync: SyncNone, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const pages, pageSize, size, batch, total = 65536, 1024, 16, 1000, 100_000
	benchPages(b, e, pages, pageSize)
	if _, err := e.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	commitRandom(b, e, total, batch, pages, pageSize, size)
	last := e.LastLSN()
	b.Run("page", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := e.ReadPageAt(ctx, 1, last); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole-bus", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := e.Replay(ctx, ReplayTarget{ToLSN: last})
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := r.ReadPage(1, nil); err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	})
}
