package engine

import (
	"math/rand/v2"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/delta"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// benchCommit commits batches of 16-byte deltas over 65,536 pages of 1 KiB.
var histEntries, segBytes = 0, int64(0)

func benchCommit(b *testing.B, dir string, sync tlog.SyncMode, workers, batch int) {
	e, err := Open(dir, &Options{SegmentBytes: segBytes, Sync: sync, Workers: workers, CheckpointBytes: -1, HistoryEntries: histEntries})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const pages, pageSize, size = 65536, 1024, 16
	specs := make([]PageSpec, pages)
	for i := range specs {
		specs[i] = PageSpec{Size: pageSize}
	}
	if _, err := e.CreatePages(ctx, specs); err != nil {
		b.Fatal(err)
	}
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
		for i := range ds {
			runs[i] = delta.Run{Offset: uint32(rng.IntN(pageSize - size)), Data: data[i*size : (i+1)*size]}
			ds[i] = delta.Delta{Page: base.PageID(1 + rng.IntN(pages)), Runs: runs[i : i+1]}
		}
		if _, err := e.Commit(ctx, ds); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deltas/s")
}

func BenchmarkCommitMemory(b *testing.B)   { benchCommit(b, "", tlog.SyncNone, 1, 1000) }
func BenchmarkCommitMemory2W(b *testing.B) { benchCommit(b, "", tlog.SyncNone, 2, 1000) }
func BenchmarkCommitDiskGroup(b *testing.B) {
	benchCommit(b, b.TempDir(), tlog.SyncGroup, 1, 1000)
}
func BenchmarkCommitDiskAlways1(b *testing.B) {
	benchCommit(b, b.TempDir(), tlog.SyncAlways, 1, 1)
}

func BenchmarkCommitMemoryNoHist(b *testing.B) {
	histEntries = -1
	defer func() { histEntries = 0 }()
	benchCommit(b, "", tlog.SyncNone, 1, 1000)
}

func BenchmarkCommitMemorySeg8M(b *testing.B) {
	segBytes = 8 << 20
	defer func() { segBytes = 0 }()
	benchCommit(b, "", tlog.SyncNone, 1, 1000)
}

// BenchmarkReplay measures replaying 1M logged 16-byte deltas into a fresh
// bus (the recovery path); reports deltas/s.
func BenchmarkReplay(b *testing.B) {
	e, err := Open("", &Options{Sync: tlog.SyncNone, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const pages, pageSize, size, batch, total = 65536, 1024, 16, 1000, 1_000_000
	specs := make([]PageSpec, pages)
	for i := range specs {
		specs[i] = PageSpec{Size: pageSize}
	}
	if _, err := e.CreatePages(ctx, specs); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]delta.Delta, batch)
	runs := make([]delta.Run, batch)
	data := make([]byte, batch*size)
	for n := 0; n < total/batch; n++ {
		for i := range ds {
			runs[i] = delta.Run{Offset: uint32(rng.IntN(pageSize - size)), Data: data[i*size : (i+1)*size]}
			ds[i] = delta.Delta{Page: base.PageID(1 + rng.IntN(pages)), Runs: runs[i : i+1]}
		}
		if _, err := e.Commit(ctx, ds); err != nil {
			b.Fatal(err)
		}
	}
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

func BenchmarkCommitMemoryBatch4k(b *testing.B)   { benchCommit(b, "", tlog.SyncNone, 1, 4000) }
func BenchmarkCommitMemory2WBatch4k(b *testing.B) { benchCommit(b, "", tlog.SyncNone, 2, 4000) }

// BenchmarkCommitDiskGroupAsync commits from one goroutine on disk with
// group sync, keeping up to 4 batches in flight (CommitAsync, then
// WaitDurable of the batch 4 back): fsyncs overlap building the next batch.
func BenchmarkCommitDiskGroupAsync(b *testing.B) {
	e, err := Open(b.TempDir(), &Options{Sync: tlog.SyncGroup, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const pages, pageSize, size, batch, depth = 65536, 1024, 16, 1000, 4
	specs := make([]PageSpec, pages)
	for i := range specs {
		specs[i] = PageSpec{Size: pageSize}
	}
	if _, err := e.CreatePages(ctx, specs); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]delta.Delta, batch)
	runs := make([]delta.Run, batch)
	data := make([]byte, batch*size)
	var inflight [depth]base.LSN
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i := range ds {
			runs[i] = delta.Run{Offset: uint32(rng.IntN(pageSize - size)), Data: data[i*size : (i+1)*size]}
			ds[i] = delta.Delta{Page: base.PageID(1 + rng.IntN(pages)), Runs: runs[i : i+1]}
		}
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

func BenchmarkCommitMemoryBatch10k(b *testing.B)   { benchCommit(b, "", tlog.SyncNone, 1, 10000) }
func BenchmarkCommitMemory2WBatch10k(b *testing.B) { benchCommit(b, "", tlog.SyncNone, 2, 10000) }
