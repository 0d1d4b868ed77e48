package harness

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/tick"
	"github.com/mmsb-go/mmsb/vfs"
)

func init() {
	register(Benchmark{ID: 1, Key: "replay", Name: "Replay", Run: runReplay})
}

// replayConfig sizes benchmark #1. tamper, when set, damages the log after
// the run and before the replays (negative controls).
type replayConfig struct {
	ticks         int
	sources       int // source pages (float64)
	elems         int // float64 elements per page
	deltasPerTick int
	seed          uint64
	tamper        func(fs vfs.FS, walDir string) error
}

// replayOutcome is what #1 measured.
type replayOutcome struct {
	ticks, tickErrors    int
	derivedWrites        uint64
	lastLSN              base.LSN
	checkpointLSN        base.LSN
	full, fromCkpt       mmsb.ReplayReport
	indepBytes           int64
	indepL2              float64
	indepPages           int
	runSec, replaySec    float64
	replayErr, indepErr  error
	fromCheckpointLoaded bool
}

// replayGraph builds the derivation graph of #1 over the source pages:
// layer 1 weights three sources, layer 2 sums pairs of layer 1, layer 3
// applies an affine passthrough to layer 2. Every page is float64.
func replayGraph(ctx context.Context, e *mmsb.Bus, src []base.PageID, elems int) (int, error) {
	n := len(src)
	l1, err := createF64Pages(ctx, e, n, elems)
	if err != nil {
		return 0, err
	}
	w := semiring.AppendF64(nil, 0.5, 0.3, 0.2)
	for i, id := range l1 {
		if err := e.Bind(ctx, id, "f64.weighted", w, []base.PageID{src[i], src[(i+1)%n], src[(i+7)%n]}); err != nil {
			return 0, err
		}
	}
	l2, err := createF64Pages(ctx, e, n/2, elems)
	if err != nil {
		return 0, err
	}
	for i, id := range l2 {
		if err := e.Bind(ctx, id, "f64.sum", nil, []base.PageID{l1[2*i], l1[2*i+1]}); err != nil {
			return 0, err
		}
	}
	l3, err := createF64Pages(ctx, e, n/2, elems)
	if err != nil {
		return 0, err
	}
	aff := semiring.PassthroughParams(semiring.TransformAffine, 0.5, 1)
	for i, id := range l3 {
		if err := e.Bind(ctx, id, "passthrough", aff, []base.PageID{l2[i]}); err != nil {
			return 0, err
		}
	}
	return len(l1) + len(l2) + len(l3), nil
}

// measureReplay runs cfg.ticks ticks of random float writes to the source
// pages with propagation through the Orchestrator, checkpoints halfway,
// then replays the log from LSN 1 and from the newest checkpoint and
// compares every page with the live state.
func measureReplay(ctx context.Context, cfg replayConfig) (replayOutcome, error) {
	var out replayOutcome
	e, err := openMem(nil)
	if err != nil {
		return out, err
	}
	defer e.Close()
	src, err := createF64Pages(ctx, e, cfg.sources, cfg.elems)
	if err != nil {
		return out, err
	}
	if _, err := replayGraph(ctx, e, src, cfg.elems); err != nil {
		return out, err
	}
	o, err := tick.New(e, &tick.Options{QueueSize: 1024, Budget: time.Hour})
	if err != nil {
		return out, err
	}
	defer o.Close()
	rng := rand.New(rand.NewPCG(cfg.seed, 0x7e91a1))
	vals := make([]float64, 4)
	var d delta.Delta
	run := make([]delta.Run, 1)
	t0 := time.Now()
	for t := 0; t < cfg.ticks; t++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		for k := 0; k < cfg.deltasPerTick; k++ {
			n := 1 + rng.IntN(len(vals))
			for i := 0; i < n; i++ {
				vals[i] = rng.Float64()*2 - 1
			}
			off := rng.IntN(cfg.elems - n + 1)
			run[0] = delta.Run{Offset: uint32(off * 8), Data: f64Page(vals[:n])}
			d = delta.Delta{Page: src[rng.IntN(len(src))], Runs: run}
			if err := o.Submit(ctx, &d); err != nil {
				return out, err
			}
		}
		res, err := o.Tick(ctx)
		out.ticks++
		if err != nil || res.Rejected != 0 || res.Committed != cfg.deltasPerTick {
			out.tickErrors++
		}
		if t == cfg.ticks/2 {
			ck, err := e.Checkpoint(ctx)
			if err != nil {
				return out, err
			}
			out.checkpointLSN = ck.LSN
		}
	}
	out.runSec = time.Since(t0).Seconds()
	out.derivedWrites = o.Metrics().DerivedWrites
	out.lastLSN = e.LastLSN()
	if err := e.Flush(ctx); err != nil {
		return out, err
	}
	if cfg.tamper != nil {
		if err := cfg.tamper(e.FS(), e.WALDir()); err != nil {
			return out, err
		}
	}
	t1 := time.Now()
	out.full, out.replayErr = e.VerifyReplay(ctx, false)
	if out.replayErr == nil {
		out.fromCkpt, out.replayErr = e.VerifyReplay(ctx, true)
	}
	// VerifyReplay(true) starts from the newest checkpoint: make sure there
	// is one, the one taken midway.
	if cks, err := checkpoint.List(e.FS(), e.CheckpointDir()); err == nil && len(cks) > 0 {
		out.fromCheckpointLoaded = cks[0].LSN == out.checkpointLSN || cks[len(cks)-1].LSN == out.checkpointLSN
	}
	out.replaySec = time.Since(t1).Seconds()
	// An independent comparison through the public read API, replaying
	// into detached buses from LSN 1 and from the newest checkpoint.
	for _, target := range []mmsb.ReplayTarget{{FromEmpty: true}, {}} {
		rep, err := mmsb.Replay(ctx, e.FS().Join(e.WALDir(), ".."), target, &mmsb.Options{FS: e.FS()})
		if err != nil {
			out.indepErr = err
			continue
		}
		b, l2, n, err := comparePages(e, rep)
		rep.Close()
		if err != nil {
			out.indepErr = err
			continue
		}
		out.indepBytes += b
		out.indepL2 = math.Max(out.indepL2, l2)
		out.indepPages = n
	}
	return out, nil
}

func runReplay(ctx context.Context, env *Env, r *Result) error {
	cfg := replayConfig{ticks: env.Int("cycles"), sources: 32, elems: 32, deltasPerTick: 8, seed: env.Seed}
	if v := env.Threshold("sources"); !math.IsNaN(v) {
		cfg.sources = int(v)
	}
	return replayBench(ctx, env, r, cfg)
}

// replayBench runs #1 with cfg and records its checks.
func replayBench(ctx context.Context, env *Env, r *Result, cfg replayConfig) error {
	out, err := measureReplay(ctx, cfg)
	if err != nil {
		return err
	}
	maxDiv, maxBytes := env.Threshold("max_divergence"), env.Threshold("max_bytes_differing")
	bytesDiff := out.full.BytesDiffering + out.fromCkpt.BytesDiffering + out.indepBytes
	pagesDiff := out.full.PagesDiffering + out.fromCkpt.PagesDiffering
	l2 := math.Max(math.Max(out.full.L2Divergence, out.fromCkpt.L2Divergence), out.indepL2)
	replayOK := out.replayErr == nil && out.indepErr == nil
	r.Metric("ticks", float64(out.ticks))
	r.Metric("ops", float64(out.lastLSN))
	r.Metric("derived_writes", float64(out.derivedWrites))
	r.Metric("pages_compared", float64(out.full.Pages))
	r.Metric("bytes_differing", float64(bytesDiff))
	r.Metric("pages_differing", float64(pagesDiff))
	r.Metric("l2_divergence", l2)
	r.Metric("checkpoint_lsn", float64(out.checkpointLSN))
	r.Metric("run_seconds", out.runSec)
	r.Metric("replay_seconds", out.replaySec)
	r.Semantic("ticks_ok", out.tickErrors == 0, float64(out.tickErrors), "every tick committed all its deltas and propagated")
	r.Semantic("propagation_logged", out.derivedWrites > 0, float64(out.derivedWrites), "> 0 derived deltas in the log")
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return ": " + err.Error()
	}
	r.Semantic("replay_ran", replayOK, 0, "replay from LSN 1 and from the checkpoint succeed"+errText(out.replayErr)+errText(out.indepErr))
	r.Semantic("replay_from_checkpoint", out.fromCheckpointLoaded, float64(out.checkpointLSN), "the second replay starts from the midway checkpoint")
	r.Semantic("bytes_differing", replayOK && float64(bytesDiff) <= maxBytes && pagesDiff == 0 &&
		out.full.Equal() && out.fromCkpt.Equal(), float64(bytesDiff), fmt.Sprintf("<= %g bytes, state hashes and graph equal", maxBytes))
	r.Semantic("l2_divergence", replayOK && l2 < maxDiv, l2, fmt.Sprintf("< %g", maxDiv))
	r.Summary = fmt.Sprintf("%d ticks, %d ops (%d derived), %d pages compared in 4 replays: %d bytes differ, L2 %.3g",
		out.ticks, out.lastLSN, out.derivedWrites, out.full.Pages, bytesDiff, l2)
	if len(out.full.Differences) > 0 {
		r.Summary += "; first: " + out.full.Differences[0]
	}
	return nil
}
