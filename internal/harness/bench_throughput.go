package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

func init() {
	register(Benchmark{ID: 5, Key: "throughput", Name: "Throughput", Run: runThroughput,
		Sizes: []Size{{"pages", 4 << 20, false}, {"page_size", 64 << 10, false}, {"delta_size", 64 << 10, false}, {"batch", 1_000_000, false}, {"deltas", 100_000_000, true}},
		Gates: []string{"min_single_per_sec", "min_multi_per_sec"},
		Limits: func(size func(string) float64) error {
			if size("delta_size") > size("page_size") {
				return fmt.Errorf("delta_size %g is over page_size %g", size("delta_size"), size("page_size"))
			}
			// The bus is in memory, its log included.
			if err := atMost(size, 4<<30, "bytes of pages", "pages", "page_size"); err != nil {
				return err
			}
			if err := atMost(size, 256<<20, "bytes of batch", "batch", "delta_size"); err != nil {
				return err
			}
			return atMost(size, 4<<30, "bytes of deltas logged", "deltas", "delta_size")
		}})
}

// ThroughputResult is one measured commit workload.
type ThroughputResult struct {
	Workers int
	// Deltas is what the log holds of the run: the LSNs its commits took
	// (one a delta), not the count the loop handed over. The rate is
	// computed from it, so a commit path that acknowledged deltas it did
	// not log cannot raise the rate, and the "committed" check sees it.
	Deltas     int
	Submitted  int // deltas handed to Commit
	Seconds    float64
	PerSec     float64
	StateHash  uint64
	ReplayOK   bool
	ReplayDiff int64
}

// throughputConfig sizes one MeasureThroughput run. diverge (a negative
// control) is called on the bus after the workload and before the state
// hash: a stand-in for an apply path that reaches a different state at
// some worker count. commit (a negative control; nil: Bus.Commit) commits
// one batch: a stand-in for a commit path that acknowledges deltas it does
// not log.
type throughputConfig struct {
	seed                                              uint64
	workers, pages, pageSize, deltaSize, batch, count int
	verifyReplay                                      bool
	diverge                                           func(ctx context.Context, e *mmsb.Bus) error
	commit                                            func(ctx context.Context, e *mmsb.Bus, ds []delta.Delta) error
}

// MeasureThroughput commits count real deltas of deltaSize random bytes at
// random offsets over pages pages of pageSize bytes, in batches, through the
// real commit path of an in-memory bus (validate, encode, log with CRC,
// apply) with the given number of apply workers, and times the Commit
// calls. Each batch is generated just before its commit (not timed). The
// workload is seeded, so every worker count commits the same deltas and
// must reach the same state.
func MeasureThroughput(ctx context.Context, seed uint64, workers, pages, pageSize, deltaSize, batch, count int, verifyReplay bool) (ThroughputResult, error) {
	return measureThroughput(ctx, throughputConfig{seed: seed, workers: workers, pages: pages, pageSize: pageSize,
		deltaSize: deltaSize, batch: batch, count: count, verifyReplay: verifyReplay})
}

func measureThroughput(ctx context.Context, c throughputConfig) (ThroughputResult, error) {
	seed, workers, pages, pageSize, deltaSize, batch, count := c.seed, c.workers, c.pages, c.pageSize, c.deltaSize, c.batch, c.count
	res := ThroughputResult{Workers: workers}
	e, err := mmsb.Open("", &mmsb.Options{Sync: mmsb.SyncNone, Workers: workers, CheckpointBytes: -1,
		Clock: deterministicClock()})
	if err != nil {
		return res, err
	}
	defer e.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	if err := createPages(ctx, e, pages, pageSize); err != nil {
		return res, err
	}
	// Each batch is generated right before its commit, as a client builds
	// a batch and hands it over (so its deltas are in the committer's
	// cache), from one seeded generator: every worker count commits the
	// same deltas (random page, offset and bytes) and must reach the same
	// state. Only the Commit calls are timed: generating random bytes is
	// the client's cost, not the bus's. Every delta is real: validated,
	// logged, applied.
	gen := newBatchGen(seed, batch, pages, pageSize, deltaSize)
	commit := c.commit
	if commit == nil {
		commit = func(ctx context.Context, e *mmsb.Bus, ds []delta.Delta) error {
			_, err := e.Commit(ctx, ds)
			return err
		}
	}
	var timed time.Duration
	done := 0
	lsn0 := e.LastLSN()
	for done < count {
		ds := gen.next(min(batch, count-done))
		start := time.Now()
		if err := commit(ctx, e, ds); err != nil {
			return res, err
		}
		timed += time.Since(start)
		done += len(ds)
	}
	res.Seconds = timed.Seconds()
	// The rate counts what the log took (one LSN a delta), measured, not
	// the deltas handed over: a loop counter passed a commit path that
	// dropped deltas and gained rate by it.
	res.Submitted = done
	res.Deltas = int(e.LastLSN() - lsn0)
	res.PerSec = float64(res.Deltas) / res.Seconds
	if c.diverge != nil {
		if err := c.diverge(ctx, e); err != nil {
			return res, err
		}
	}
	if res.StateHash, err = e.StateHash(); err != nil {
		return res, err
	}
	if c.verifyReplay {
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

// batchGen generates the seeded random batches of MeasureThroughput into
// buffers it reuses, so that a batch's deltas are freshly written when it
// is committed, as a client's would be.
type batchGen struct {
	rng                        *rand.Rand
	pages, pageSize, deltaSize int
	ds                         []delta.Delta
	runs                       []delta.Run
	data                       []byte
}

func newBatchGen(seed uint64, batch, pages, pageSize, deltaSize int) *batchGen {
	return &batchGen{rng: rand.New(rand.NewPCG(seed, 0x5eed)), pages: pages, pageSize: pageSize, deltaSize: deltaSize,
		ds: make([]delta.Delta, batch), runs: make([]delta.Run, batch), data: make([]byte, batch*deltaSize)}
}

// next returns the next batch of n deltas (valid until the next call).
func (g *batchGen) next(n int) []delta.Delta {
	data := g.data[:n*g.deltaSize]
	for i := 0; i < len(data); i += 8 {
		v := g.rng.Uint64()
		for k := i; k < min(i+8, len(data)); k++ {
			data[k] = byte(v)
			v >>= 8
		}
	}
	for i := range n {
		g.runs[i] = delta.Run{Offset: uint32(g.rng.IntN(g.pageSize - g.deltaSize + 1)), Data: data[i*g.deltaSize : (i+1)*g.deltaSize]}
		g.ds[i] = delta.Delta{Page: mmsb.PageID(1 + g.rng.IntN(g.pages)), Runs: g.runs[i : i+1]}
	}
	return g.ds[:n]
}

// deterministicClock stamps commits 1 µs apart from a fixed epoch, so runs
// are reproducible byte for byte.
func deterministicClock() func() int64 {
	t := int64(1_767_225_600_000_000_000) // 2026-01-01T00:00:00Z
	return func() int64 { t += 1000; return t }
}

func runThroughput(ctx context.Context, env *Env, r *Result) error {
	return throughputBench(ctx, env, r, nil)
}

// throughputBench runs #5 and records its checks. divergeAt, when set,
// returns the diverge hook for a worker count (negative controls).
func throughputBench(ctx context.Context, env *Env, r *Result, divergeAt func(workers int) func(context.Context, *mmsb.Bus) error) error {
	return throughputBenchWith(ctx, env, r, divergeAt, nil)
}

// throughputBenchWith is throughputBench with commitAt, when set,
// returning the commit hook for a worker count (a negative control).
func throughputBenchWith(ctx context.Context, env *Env, r *Result, divergeAt func(workers int) func(context.Context, *mmsb.Bus) error,
	commitAt func(workers int) func(context.Context, *mmsb.Bus, []delta.Delta) error) error {
	cfg := throughputConfig{seed: env.Seed, pages: env.Int("pages"), pageSize: env.Int("page_size"), deltaSize: env.Int("delta_size"),
		batch: env.Int("batch"), count: env.Int("deltas")}
	var short []int // worker counts whose log holds fewer deltas than were committed
	run := func(workers int, verifyReplay bool) (ThroughputResult, error) {
		c := cfg
		c.workers, c.verifyReplay = workers, verifyReplay
		if divergeAt != nil {
			c.diverge = divergeAt(workers)
		}
		if commitAt != nil {
			c.commit = commitAt(workers)
		}
		res, err := measureThroughput(ctx, c)
		if err == nil && res.Deltas != cfg.count {
			short = append(short, workers)
		}
		return res, err
	}
	single, err := run(1, true)
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
	var diverged []int
	for w := 2; w <= max(2, env.Workers); w++ {
		m, err := run(w, false)
		if err != nil {
			return err
		}
		curve = append(curve, m.PerSec)
		if m.StateHash != single.StateHash {
			diverged = append(diverged, w)
		}
		if m.PerSec > best.PerSec || best.Workers == 1 {
			best = m
		}
	}
	r.Series = map[string][]float64{"deltas_per_sec_by_workers": curve}
	r.Metric("multi_per_sec", best.PerSec)
	r.Metric("multi_workers", float64(best.Workers))
	r.Semantic("committed", len(short) == 0, float64(len(short)),
		fmt.Sprintf("every run's log took all %d deltas (LSNs counted; short: worker counts %v)", cfg.count, short))
	r.Semantic("parallel_state_equals_serial", len(diverged) == 0, float64(len(diverged)),
		fmt.Sprintf("state hash of every worker count 2..%d == serial (diverged: %v)", max(2, env.Workers), diverged))
	minSingle, minMulti := env.Threshold("min_single_per_sec"), env.Threshold("min_multi_per_sec")
	r.Timing("single_per_sec", single.PerSec >= minSingle, single.PerSec, "deltas/s", fmt.Sprintf(">= %s", HumanRate(minSingle)))
	r.Timing("multi_per_sec", best.PerSec >= minMulti, best.PerSec, "deltas/s", fmt.Sprintf(">= %s", HumanRate(minMulti)))
	r.Summary = fmt.Sprintf("single %s, multi %s with %d workers, %d × %d-byte deltas", HumanRate(single.PerSec),
		HumanRate(best.PerSec), best.Workers, cfg.count, cfg.deltaSize)
	if len(diverged) > 0 {
		r.Summary += fmt.Sprintf("; state differs from serial at workers %v", diverged)
	}
	return nil
}
