package harness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/tick"
	"github.com/mmsb-go/mmsb/vfs"
)

func init() {
	register(Benchmark{ID: 1, Key: "replay", Name: "Replay", Run: runReplay, Sizes: []Size{{"cycles", 100_000, true}}, OptionalSizes: []Size{{"sources", 4096, false}},
		Gates: []string{"max_divergence", "max_bytes_differing"}})
}

// replayConfig sizes benchmark #1. Negative controls: tamper damages the
// log and tamperCheckpoint the midway checkpoint, after the run and before
// the replays; l3Func (with funcs) replaces the third layer's affine
// passthrough with another function; invalidDelta submits one extra delta
// to a page that does not exist on the first tick (the tick rejects it);
// noBindings builds no derivation graph, so nothing propagates;
// indepFromCkpt, when set, replaces the target of the independent replay
// that must start from the newest checkpoint (a replay that starts
// elsewhere, e.g. from LSN 1, for replay_from_checkpoint's control).
type replayConfig struct {
	ticks            int
	sources          int // source pages (float64)
	elems            int // float64 elements per page
	deltasPerTick    int
	seed             uint64
	tamper           func(fs vfs.FS, walDir string) error
	tamperCheckpoint func(fs vfs.FS, path string) error
	l3Func           string
	funcs            map[string]mmsb.RecomputeFunc
	invalidDelta     bool
	noBindings       bool
	indepFromCkpt    *mmsb.ReplayTarget
}

// replayOutcome is what #1 measured.
type replayOutcome struct {
	ticks, tickErrors   int
	derivedWrites       uint64
	lastLSN             mmsb.LSN
	checkpointLSN       mmsb.LSN
	checkpointErr       error // the midway checkpoint does not verify (so no replay can start from it)
	full, fromCkpt      mmsb.ReplayReport
	indepBytes          int64
	indepL2             float64
	indepPages          int
	indepCkpt           mmsb.Recovery // where the independent replay from the newest checkpoint started
	recompute           recomputeOutcome
	bindings            int // bindings built
	runSec, replaySec   float64
	replayErr, indepErr error
}

// replayGraph builds the derivation graph of #1 over the source pages:
// layer 1 weights three sources, layer 2 sums pairs of layer 1, layer 3
// applies an affine passthrough to layer 2. Every page is float64.
func replayGraph(ctx context.Context, e *mmsb.Bus, src []mmsb.PageID, elems int, l3Func string) (int, error) {
	n := len(src)
	l1, err := createF64Pages(ctx, e, n, elems)
	if err != nil {
		return 0, err
	}
	w := semiring.AppendF64(nil, 0.5, 0.3, 0.2)
	for i, id := range l1 {
		if err := e.Bind(ctx, id, "f64.weighted", w, []mmsb.PageID{src[i], src[(i+1)%n], src[(i+7)%n]}); err != nil {
			return 0, err
		}
	}
	l2, err := createF64Pages(ctx, e, n/2, elems)
	if err != nil {
		return 0, err
	}
	for i, id := range l2 {
		if err := e.Bind(ctx, id, "f64.sum", nil, []mmsb.PageID{l1[2*i], l1[2*i+1]}); err != nil {
			return 0, err
		}
	}
	l3, err := createF64Pages(ctx, e, n/2, elems)
	if err != nil {
		return 0, err
	}
	fn, params := "passthrough", semiring.PassthroughParams(semiring.TransformAffine, 0.5, 1)
	if l3Func != "" {
		fn, params = l3Func, nil
	}
	for i, id := range l3 {
		if err := e.Bind(ctx, id, fn, params, []mmsb.PageID{l2[i]}); err != nil {
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
	e, err := openMem(cfg.funcs)
	if err != nil {
		return out, err
	}
	defer e.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	src, err := createF64Pages(ctx, e, cfg.sources, cfg.elems)
	if err != nil {
		return out, err
	}
	if !cfg.noBindings {
		if out.bindings, err = replayGraph(ctx, e, src, cfg.elems, cfg.l3Func); err != nil {
			return out, err
		}
	}
	o, err := tick.New(e, &tick.Options{QueueSize: 1024, Budget: time.Hour})
	if err != nil {
		return out, err
	}
	defer o.Close() //nolint:errcheck // nothing written through it is lost by a failed close
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
		if cfg.invalidDelta && t == 0 {
			if err := o.Submit(ctx, &delta.Delta{Page: missingPage, Runs: []delta.Run{{Data: []byte{1}}}}); err != nil {
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
	ckPath := ""
	if cks, err := checkpoint.List(e.FS(), e.CheckpointDir()); err == nil {
		for _, c := range cks {
			if c.LSN == out.checkpointLSN {
				ckPath = c.Path
			}
		}
	}
	if cfg.tamperCheckpoint != nil && ckPath != "" {
		if err := cfg.tamperCheckpoint(e.FS(), ckPath); err != nil {
			return out, err
		}
	}
	// That the midway checkpoint verifies is checked here; VerifyReplay
	// reports the checkpoint it started from, and the independent replay
	// from the newest checkpoint (below) its Recovery: each must be the
	// midway one, or the "replay from the checkpoint" compared a replay
	// from LSN 1 once more.
	out.checkpointErr = errors.New("the midway checkpoint is missing")
	if ckPath != "" {
		out.checkpointErr = checkpoint.Verify(e.FS(), ckPath)
	}
	t1 := time.Now()
	out.full, out.replayErr = e.VerifyReplay(ctx, false)
	if out.replayErr == nil {
		out.fromCkpt, out.replayErr = e.VerifyReplay(ctx, true)
	}
	out.replaySec = time.Since(t1).Seconds()
	// An independent comparison through the public read API, replaying
	// into detached buses from LSN 1 and from the newest checkpoint. On the
	// one from LSN 1, every binding's function is re-run on the replayed
	// parents and compared with the logged derived bytes.
	fromCkpt := mmsb.ReplayTarget{}
	if cfg.indepFromCkpt != nil {
		fromCkpt = *cfg.indepFromCkpt
	}
	for k, target := range []mmsb.ReplayTarget{{FromEmpty: true}, fromCkpt} {
		rep, err := mmsb.Replay(ctx, e.FS().Join(e.WALDir(), ".."), target, &mmsb.Options{FS: e.FS(), Functions: cfg.funcs})
		if err != nil {
			out.indepErr = err
			continue
		}
		if k == 1 {
			out.indepCkpt = rep.Recovery()
		}
		b, l2, n, err := comparePages(e, rep)
		if err == nil && k == 0 {
			out.recompute = recomputeBindings(rep, cfg.funcs)
		}
		_ = rep.Close() // a detached replay: nothing to lose
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
	fromCkptOK := out.replayErr == nil && out.checkpointErr == nil && out.fromCkpt.FromCheckpoint != "" &&
		out.fromCkpt.CheckpointLSN == out.checkpointLSN && out.checkpointLSN != 0 &&
		out.indepErr == nil && out.indepCkpt.Checkpoint != "" && out.indepCkpt.CheckpointLSN == out.checkpointLSN
	r.Semantic("replay_from_checkpoint", fromCkptOK, float64(out.fromCkpt.CheckpointLSN),
		fmt.Sprintf("VerifyReplay(from the newest checkpoint) and the independent replay (mmsb.Replay) report starting from the midway checkpoint (LSN %d), which verifies; they started from LSN %d and %d",
			out.checkpointLSN, out.fromCkpt.CheckpointLSN, out.indepCkpt.CheckpointLSN)+errText(out.checkpointErr))
	r.Semantic("bytes_differing", replayOK && float64(bytesDiff) <= maxBytes && pagesDiff == 0 &&
		out.full.Equal() && out.fromCkpt.Equal(), float64(bytesDiff), fmt.Sprintf("<= %g bytes, state hashes and graph equal", maxBytes))
	r.Semantic("l2_divergence", replayOK && l2 < maxDiv, l2, fmt.Sprintf("< %g over every float64 cell", maxDiv))
	rc := out.recompute
	r.Metric("recompute_bindings", float64(rc.checked))
	r.Metric("recompute_bytes_differing", float64(rc.bytesDiff))
	r.Metric("recompute_l2", rc.l2)
	r.Semantic("recompute_equal", out.indepErr == nil && rc.checked == out.bindings && rc.bindings == out.bindings &&
		rc.bytesDiff == 0 && rc.l2 < maxDiv, float64(rc.bytesDiff),
		fmt.Sprintf("all %d bindings re-run on the replayed parents: 0 bytes differ from the logged derived bytes, L2 < %g", out.bindings, maxDiv))
	r.Summary = fmt.Sprintf("%d ticks, %d ops (%d derived), %d pages compared in 4 replays (one from checkpoint LSN %d): %d bytes differ, L2 %.3g; %d/%d bindings recomputed: %d bytes differ, L2 %.3g",
		out.ticks, out.lastLSN, out.derivedWrites, out.full.Pages, out.fromCkpt.CheckpointLSN, bytesDiff, l2, rc.checked, out.bindings, rc.bytesDiff, rc.l2)
	if len(out.full.Differences) > 0 {
		r.Summary += "; first: " + out.full.Differences[0]
	}
	if rc.first != "" {
		r.Summary += "; recompute: " + rc.first
	}
	return nil
}
