package main

import (
	"runtime"
	"testing"
)

// A --batch far larger than --count sized every worker's buffers by
// --batch: `bench --batch 100000000 --count 1000` took 20 GB of RSS and
// did not finish in a minute. The buffers now hold at most --count
// deltas, and --concurrency past the number of batches starts no more
// goroutines. Here --batch 10^7 would allocate over 2 GB.
func TestBenchBatchLargerThanCount(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := runCLI(t, "bench", "--pages", "16", "--batch", "10000000", "--count", "10", "--no-verify").mustCode(t, exitOK)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Fatalf("bench of 10 deltas in one batch allocated %d MiB\n%s", grew>>20, r.stdout)
	}
	// 10^5 goroutines for 10 batches of 1,000: each had its buffers of a
	// batch (22 GB in all).
	runtime.GC()
	runtime.ReadMemStats(&before)
	r = runCLI(t, "bench", "--pages", "16", "--concurrency", "100000", "--count", "10000", "--no-verify").mustCode(t, exitOK)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Fatalf("bench of 10 batches with --concurrency 100000 allocated %d MiB\n%s", grew>>20, r.stdout)
	}
}
