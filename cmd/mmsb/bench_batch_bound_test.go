package main

import (
	"runtime"
	"testing"
)

// A --batch far larger than --count sized every worker's buffers by
// --batch: `bench --batch 100000000 --count 1000` took 20 GB of RSS and
// did not finish in a minute. The buffers now hold at most --count
// deltas. Here --batch 10^7 would allocate over a gigabyte.
func TestBenchBatchLargerThanCount(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := runCLI(t, "bench", "--pages", "16", "--batch", "10000000", "--count", "10", "--no-verify").mustCode(t, exitOK)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Fatalf("bench of 10 deltas in one batch allocated %d MiB\n%s", grew>>20, r.stdout)
	}
}
