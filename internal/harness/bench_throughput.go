package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

func init() {
	register(Benchmark{ID: 5, Key: "throughput", Name: "Throughput", Run: runThroughput})
}

// ThroughputResult is one measured commit workload.
type ThroughputResult struct {
	Workers    int
	Deltas     int
	Seconds    float64
	PerSec     float64
	StateHash  uint64
	ReplayOK   bool
	ReplayDiff int64
}

// MeasureThroughput commits count real deltas of deltaSize random bytes at
// random offsets over pages pages of pageSize bytes, in batches, through the
// real commit path of an in-memory bus (validate, encode, log with CRC,
// apply) with the given number of apply workers. The deltas come from a
// pool of up to 131,072 pre-generated ones, committed round-robin. The
// workload is seeded, so every worker count commits the same deltas and
// must reach the same state.
func MeasureThroughput(ctx context.Context, seed uint64, workers, pages, pageSize, deltaSize, batch, count int, verifyReplay bool) (ThroughputResult, error) {
	res := ThroughputResult{Workers: workers}
	e, err := mmsb.Open("", &mmsb.Options{Sync: tlog.SyncNone, Workers: workers, CheckpointBytes: -1,
		Clock: deterministicClock()})
	if err != nil {
		return res, err
	}
	defer e.Close()
	if err := createPages(ctx, e, pages, pageSize); err != nil {
		return res, err
	}
	// The workload is a pool of pre-generated batches of random deltas
	// (random page, offset and bytes), committed round-robin: generating
	// random bytes is the client's cost, not the bus's, and is not timed.
	// Every committed delta is real: validated, logged, applied.
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	poolBatches := max(1, min(poolDeltas/batch, (count+batch-1)/batch))
	pool := make([][]delta.Delta, poolBatches)
	data := make([]byte, poolBatches*batch*deltaSize)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	runs := make([]delta.Run, poolBatches*batch)
	for b := range pool {
		pool[b] = make([]delta.Delta, batch)
		for i := range pool[b] {
			k := b*batch + i
			runs[k] = delta.Run{Offset: uint32(rng.IntN(pageSize - deltaSize + 1)), Data: data[k*deltaSize : (k+1)*deltaSize]}
			pool[b][i] = delta.Delta{Page: base.PageID(1 + rng.IntN(pages)), Runs: runs[k : k+1]}
		}
	}
	start := time.Now()
	done := 0
	for b := 0; done < count; b++ {
		n := min(batch, count-done)
		if _, err := e.Commit(ctx, pool[b%len(pool)][:n]); err != nil {
			return res, err
		}
		done += n
	}
	res.Seconds = time.Since(start).Seconds()
	res.Deltas = done
	res.PerSec = float64(done) / res.Seconds
	if res.StateHash, err = e.StateHash(); err != nil {
		return res, err
	}
	if verifyReplay {
		rep, err := e.VerifyReplay(ctx, false)
		if err != nil {
			return res, err
		}
		res.ReplayOK, res.ReplayDiff = rep.Equal(), rep.BytesDiffering
	}
	return res, nil
}

func createPages(ctx context.Context, e *mmsb.Bus, pages, size int) error {
	const chunk = 65536
	specs := make([]mmsb.PageSpec, 0, chunk)
	for made := 0; made < pages; made += len(specs) {
		specs = specs[:0]
		for i := 0; i < chunk && made+i < pages; i++ {
			specs = append(specs, mmsb.PageSpec{Size: size})
		}
		if _, err := e.CreatePages(ctx, specs); err != nil {
			return err
		}
	}
	return nil
}

// deterministicClock stamps commits 1 µs apart from a fixed epoch, so runs
// are reproducible byte for byte.
// poolDeltas bounds the pre-generated workload of MeasureThroughput.
const poolDeltas = 1 << 17

func deterministicClock() func() int64 {
	t := int64(1_767_225_600_000_000_000) // 2026-01-01T00:00:00Z
	return func() int64 { t += 1000; return t }
}

func runThroughput(ctx context.Context, env *Env, r *Result) error {
	pages, pageSize, size, batch := env.Int("pages"), env.Int("page_size"), env.Int("delta_size"), env.Int("batch")
	count := env.Int("deltas")
	single, err := MeasureThroughput(ctx, env.Seed, 1, pages, pageSize, size, batch, count, true)
	if err != nil {
		return err
	}
	r.Metric("single_per_sec", single.PerSec)
	r.Semantic("single_replay_equal", single.ReplayOK, float64(single.ReplayDiff), "replay of the log == live state")
	// Multi: apply workers 2..N, each measured (never single × workers),
	// same seeded workload; every worker count must reach the same state.
	best := single
	var curve []float64
	curve = append(curve, single.PerSec)
	sameState := true
	for w := 2; w <= max(2, env.Workers); w++ {
		m, err := MeasureThroughput(ctx, env.Seed, w, pages, pageSize, size, batch, count, false)
		if err != nil {
			return err
		}
		curve = append(curve, m.PerSec)
		if m.StateHash != single.StateHash {
			sameState = false
		}
		if m.PerSec > best.PerSec || best.Workers == 1 {
			best = m
		}
	}
	r.Series = map[string][]float64{"deltas_per_sec_by_workers": curve}
	r.Metric("multi_per_sec", best.PerSec)
	r.Metric("multi_workers", float64(best.Workers))
	r.Semantic("parallel_state_equals_serial", sameState, 0, "state hash identical for every worker count")
	minSingle, minMulti := env.Threshold("min_single_per_sec"), env.Threshold("min_multi_per_sec")
	r.Timing("single_per_sec", single.PerSec >= minSingle, single.PerSec, "deltas/s", fmt.Sprintf(">= %s", HumanRate(minSingle)))
	r.Timing("multi_per_sec", best.PerSec >= minMulti, best.PerSec, "deltas/s", fmt.Sprintf(">= %s", HumanRate(minMulti)))
	r.Summary = fmt.Sprintf("single %s, multi %s with %d workers, %d × %d-byte deltas", HumanRate(single.PerSec),
		HumanRate(best.PerSec), best.Workers, count, size)
	return nil
}
