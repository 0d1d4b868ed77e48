package main

import (
	"context"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// BenchmarkGoCommit is the Go side of the bindings' comparison
// (docs/bindings.md): the reference workload of the root package's
// BenchmarkCommitMemory (in-memory bus, SyncNone, 65,536 pages of 1 KiB,
// 16-byte writes at random places) through the Go API, with batches of
// 1,000 and of 1 write, next to bench/commit_bench.c (C) and
// examples/python-writer/bench.py (Python) on the same workload.
func BenchmarkGoCommit(b *testing.B) {
	for _, batch := range []int{1000, 1} {
		b.Run(map[int]string{1000: "batch=1000", 1: "batch=1"}[batch], func(b *testing.B) {
			bus, err := mmsb.Open("", &mmsb.Options{Sync: mmsb.SyncNone, CheckpointBytes: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer bus.Close()
			const pages, pageSize, width = 65536, 1024, 16
			specs := make([]mmsb.PageSpec, pages)
			for i := range specs {
				specs[i].Size = pageSize
			}
			if _, err := bus.CreatePages(context.Background(), specs); err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			ds := make([]delta.Delta, batch)
			runs := make([]delta.Run, batch)
			data := make([]byte, batch*width)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			b.ReportAllocs()
			cpu0 := processCPU()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				for i := range ds {
					runs[i] = delta.Run{Offset: uint32(rng.IntN(pageSize - width)), Data: data[i*width : (i+1)*width]}
					ds[i] = delta.Delta{Page: mmsb.PageID(1 + rng.IntN(pages)), Runs: runs[i : i+1]}
				}
				if _, err := bus.Commit(context.Background(), ds); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deltas/s")
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*batch), "cpu-ns/delta")
		})
	}
}

// processCPU returns the CPU time of the whole process in ns (user +
// system, every thread): on a loaded shared machine wall time mostly
// measures the scheduler, CPU time per delta compares the three languages.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
