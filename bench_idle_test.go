//go:build unix

package mmsb

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/delta"
)

// processCPU returns the CPU time (user + system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCommitGaps commits batches of 1,000 deltas with a 1 ms pause after
// each (a committer that is not saturated, such as a 60 Hz tick loop) and
// reports the process's CPU time per batch: with apply helpers that spin
// while they wait for the next batch, it grows by the spin, which on a
// shared machine is a core taken from everyone else.
func benchCommitGaps(b *testing.B, workers int) {
	e, err := Open("", &Options{Sync: SyncNone, Workers: workers, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const pages, pageSize, size, batch = 65536, 1024, 16, 1000
	benchPages(b, e, pages, pageSize)
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]delta.Delta, batch)
	runs := make([]delta.Run, batch)
	data := make([]byte, batch*size)
	b.ResetTimer()
	cpu0 := processCPU(b)
	for n := 0; n < b.N; n++ {
		fillBatch(rng, ds, runs, data, pages, pageSize, size)
		if _, err := e.Commit(ctx, ds); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/batch")
}

func BenchmarkCommitGaps1W(b *testing.B) { benchCommitGaps(b, 1) }
func BenchmarkCommitGaps2W(b *testing.B) { benchCommitGaps(b, 2) }
