package mmsb

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mmsb-go/mmsb/delta"
)

// Shared-mode benchmarks (docs/benchmarks.md). The writer and the reader
// run in one process here (the reader maps the region separately, exactly
// as another process would); the cross-process figures come from the
// torture test's counts.

func benchShmDir(b *testing.B) string {
	b.Helper()
	root := ""
	if st, err := os.Stat(DefaultSharedDir); err == nil && st.IsDir() {
		root = DefaultSharedDir
	}
	// MMSB_BENCH_SHM names another tmpfs, e.g. one mounted with
	// huge=advise to measure shared mode with transparent huge pages.
	if d := os.Getenv("MMSB_BENCH_SHM"); d != "" {
		root = d
	}
	d, err := os.MkdirTemp(root, "mmsb-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// BenchmarkCommitDiskNone is the private-mode baseline for
// BenchmarkCommitShared: the same on-disk bus (log written, not synced).
func BenchmarkCommitDiskNone(b *testing.B) { benchCommit(b, b.TempDir(), SyncNone, 1, 1000) }

// BenchmarkCommitShared is the reference workload (16-byte deltas, 65,536
// x 1 KiB pages, batches of 1,000) with the store in shared memory.
func BenchmarkCommitShared(b *testing.B) {
	benchShared = benchShmDir(b)
	defer func() { benchShared = "" }()
	benchCommit(b, b.TempDir(), SyncNone, 1, 1000)
}

// sharedBenchBus opens a shared bus with 65,536 1 KiB pages and a reader.
func sharedBenchBus(b *testing.B) (*Bus, *Reader, []PageID) {
	b.Helper()
	shm, dir := benchShmDir(b), b.TempDir()
	e, err := Open(dir, &Options{Shared: true, SharedDir: shm, Sync: SyncNone, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	benchPages(b, e, 65536, 1024)
	ids := make([]PageID, 65536) // a fresh bus assigns IDs from 1, as fillBatch assumes
	for i := range ids {
		ids[i] = PageID(i + 1)
	}
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rd.Close() })
	return e, rd, ids
}

// randomID draws one of the bench bus's pages, IDs 1..len(ids), from the
// generator as BareRandomTouch and BareRandomCopy draw their offsets: not
// ids[rng.IntN(n)], whose 512 KiB slice made every draw an L2 miss of
// the benchmark's own (about 10 ns per call, which the bare baselines do
// not pay; figures before 2026-12-01 13:30 UTC include it).
func randomID(rng *rand.Rand, ids []PageID) PageID { return PageID(1 + rng.IntN(len(ids))) }

// committer commits reference batches until stop is closed.
func committer(b *testing.B, e *Bus, stop chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	const pages, pageSize, size, batch = 65536, 1024, 16, 1000
	rng := rand.New(rand.NewPCG(3, 4))
	ds := make([]delta.Delta, batch)
	runs := make([]delta.Run, batch)
	data := make([]byte, batch*size)
	for {
		select {
		case <-stop:
			return
		default:
		}
		fillBatch(rng, ds, runs, data, pages, pageSize, size)
		if _, err := e.Commit(context.Background(), ds); err != nil {
			b.Error(err)
			return
		}
	}
}

func benchReadPage(b *testing.B, load bool) { benchReadPageOrder(b, load, false) }

// BenchmarkReaderReadPageSeq: consistent copies of pages in ascending ID
// order (adjacent cells), writer idle: the copy without the cache and TLB
// misses of a random page over 64 MiB.
func BenchmarkReaderReadPageSeq(b *testing.B) { benchReadPageOrder(b, false, true) }

func benchReadPageOrder(b *testing.B, load, seq bool) {
	e, rd, ids := sharedBenchBus(b)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	if load {
		wg.Add(1)
		go committer(b, e, stop, &wg)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 1024)
	b.SetBytes(1024)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		id := ids[n&(len(ids)-1)]
		if !seq {
			id = randomID(rng, ids)
		}
		var err error
		if buf, _, _, err = rd.ReadPage(id, buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "copies/s")
	b.ReportMetric(float64(rd.Stats().Retries)/float64(b.N), "retries/op")
}

// BenchmarkReaderReadPage: consistent 1 KiB copies, writer idle.
func BenchmarkReaderReadPage(b *testing.B) { benchReadPage(b, false) }

// BenchmarkReaderReadPageUnderLoad: the same while a goroutine commits the
// reference workload as fast as it can (the two share the 2 cores).
func BenchmarkReaderReadPageUnderLoad(b *testing.B) { benchReadPage(b, true) }

// BenchmarkReaderView: zero-copy views (fn reads one word), writer idle.
func BenchmarkReaderView(b *testing.B) {
	_, rd, ids := sharedBenchBus(b)
	rng := rand.New(rand.NewPCG(5, 6))
	var sink byte
	fn := func(p []byte) error { sink ^= p[0]; return nil }
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if err := rd.View(randomID(rng, ids), fn); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "views/s")
	_ = sink
}

// BenchmarkReaderSnapshot100UnderLoad: Snapshot of 100 random pages while
// the reference workload commits; reports discarded attempts per snapshot
// and the share of snapshots that failed with ErrSnapshotBusy.
func BenchmarkReaderSnapshot100UnderLoad(b *testing.B) {
	e, rd, ids := sharedBenchBus(b)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go committer(b, e, stop, &wg)
	rng := rand.New(rand.NewPCG(7, 8))
	sel := make([]PageID, 100)
	var snap []SnapshotPage
	busy := 0
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i := range sel {
			sel[i] = ids[rng.IntN(len(ids))]
		}
		var err error
		snap, _, err = rd.SnapshotInto(sel, snap)
		if err != nil {
			busy++
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(rd.Stats().SnapshotRetries)/float64(b.N), "retries/op")
	b.ReportMetric(100*float64(b.N-busy)/float64(b.N), "success%")
}

// BenchmarkReaderWaitLatency: time from Commit returning in the writer
// goroutine to Wait returning in the reader goroutine, one commit at a
// time; p50 and p99 in µs. WaitSpin decides between polling (spin) and
// sleeping on the futex: the "Sleep" variant uses the minimum spin.
func BenchmarkReaderWaitLatency(b *testing.B)      { benchWait(b, time.Second) }
func BenchmarkReaderWaitLatencySleep(b *testing.B) { benchWait(b, time.Nanosecond) }

func benchWait(b *testing.B, spin time.Duration) {
	e, rd, ids := sharedBenchBus(b)
	rd.opts.WaitSpin = spin
	var committedAt atomic.Int64
	lat := make([]float64, 0, b.N)
	next := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range next {
			time.Sleep(200 * time.Microsecond) // let the reader settle into Wait
			if _, err := e.Commit(context.Background(), []delta.Delta{Write(ids[0], 0, []byte{1})}); err != nil {
				b.Error(err)
				return
			}
			committedAt.Store(time.Now().UnixNano())
		}
	}()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		after := rd.LastLSN()
		committedAt.Store(0)
		next <- struct{}{}
		if _, err := rd.Wait(context.Background(), after); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now().UnixNano()
		var t0 int64
		for t0 = committedAt.Load(); t0 == 0; t0 = committedAt.Load() {
		}
		lat = append(lat, float64(max(0, t1-t0))/1e3)
	}
	b.StopTimer()
	close(next)
	<-done
	reportLatency(b, lat)
}

// BenchmarkReaderViewSeq: views of every page in ascending ID order
// (a reader scanning the bus: adjacent slots and pages, which the
// hardware prefetcher streams), writer idle.
func BenchmarkReaderViewSeq(b *testing.B) { benchViewCycle(b, 65536) }

// BenchmarkReaderViewHot: zero-copy views of one page (table line and page
// cached), writer idle: the reader's own per-call cost, without the cache
// and TLB misses of BenchmarkReaderView's random pages.
func BenchmarkReaderViewHot(b *testing.B) { benchViewCycle(b, 8) }

// benchViewCycle views the first n pages (a power of two) in ID order,
// over and over, writer idle.
func benchViewCycle(b *testing.B, n int) {
	_, rd, ids := sharedBenchBus(b)
	ids = ids[:n]
	var sink byte
	fn := func(p []byte) error { sink ^= p[0]; return nil }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rd.View(ids[i&(n-1)], fn); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "views/s")
	_ = sink
}

// bareShmPages maps 64 MiB of a tmpfs file read-only, as a reader maps
// the writer's chunks, written once and faulted in: the baseline memory
// for BenchmarkBareRandomCopy and BenchmarkBareRandomTouch.
func bareShmPages(b *testing.B) []byte {
	b.Helper()
	const n = 65536 * 1024
	f, err := os.CreateTemp(benchShmDir(b), "bare-")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	src := make([]byte, n)
	for i := range src {
		src[i] = byte(i)
	}
	if _, err := f.Write(src); err != nil {
		b.Fatal(err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = unix.Munmap(mem) })
	var sum byte
	for i := 0; i < n; i += 4096 {
		sum += mem[i]
	}
	_ = sum
	return mem
}

// BenchmarkBareRandomCopy is BenchmarkReaderReadPage without the bus: a
// plain copy of a random 1 KiB page out of the same 64 MiB of tmpfs
// memory, same random sequence. Its rate bounds what any reader can reach
// on the machine; the reader's figure is reported against it.
func BenchmarkBareRandomCopy(b *testing.B) {
	mem := bareShmPages(b)
	rng := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 1024)
	b.SetBytes(1024)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		p := rng.IntN(65536) * 1024
		copy(buf, mem[p:p+1024])
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "copies/s")
}

// BenchmarkBareRandomTouch is BenchmarkReaderView without the bus: read
// the first byte of a random 1 KiB page of the same memory.
func BenchmarkBareRandomTouch(b *testing.B) {
	mem := bareShmPages(b)
	rng := rand.New(rand.NewPCG(5, 6))
	var sink byte
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		sink ^= mem[rng.IntN(65536)*1024]
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "touches/s")
	_ = sink
}

// BenchmarkBareRandomTouchCall is BenchmarkBareRandomTouch with the byte
// read by the caller's function, as BenchmarkReaderView's fn reads it:
// the same closure, called through a function the compiler cannot inline
// (View calls fn so). No bus, no sequence word, no page table: what is
// left is the cost of handing each random page to a call-back, the
// floor under any View-style API on this machine (docs/benchmarks.md,
// "Where random View's floor lies").
func BenchmarkBareRandomTouchCall(b *testing.B) {
	mem := bareShmPages(b)
	rng := rand.New(rand.NewPCG(5, 6))
	var sink byte
	fn := func(p []byte) error { sink ^= p[0]; return nil }
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		p := rng.IntN(65536) * 1024
		if err := callBack(fn, mem[p:p+1024:p+1024]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "touches/s")
	_ = sink
}

//go:noinline
func callBack(fn func([]byte) error, p []byte) error { return fn(p) }

// BenchmarkBareWakeLatency is BenchmarkReaderWaitLatencySleep without the
// bus: one goroutine blocks on a channel, another sleeps 200 µs, then
// records the time and sends; p50 and p99 of send → receive. It is the
// machine's floor for waking a blocked waiter (the futex wake-up of
// Reader.Wait pays the same scheduler and idle-CPU wake-up).
func BenchmarkBareWakeLatency(b *testing.B) {
	var sentAt atomic.Int64
	lat := make([]float64, 0, b.N)
	ch := make(chan struct{})
	next := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range next {
			time.Sleep(200 * time.Microsecond) // let the receiver block
			sentAt.Store(time.Now().UnixNano())
			ch <- struct{}{}
		}
	}()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		next <- struct{}{}
		<-ch
		lat = append(lat, float64(max(0, time.Now().UnixNano()-sentAt.Load()))/1e3)
	}
	b.StopTimer()
	close(next)
	<-done
	reportLatency(b, lat)
}

// reportLatency reports the p50 and p99 of lat (µs) as benchmark metrics.
func reportLatency(b *testing.B, lat []float64) {
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-µs")
	b.ReportMetric(lat[len(lat)*99/100], "p99-µs")
}
