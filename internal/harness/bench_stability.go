package harness

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/tick"
)

func init() {
	register(Benchmark{ID: 9, Key: "stability", Name: "Stability", Run: runStability, Sizes: []Size{{"steps", 100_000, true}},
		Gates: []string{"max_divergence", "max_step_jump", "max_reference_error"}})
}

// stabilityConfig sizes benchmark #9: a diffusion on a ring of cells pages
// of elems float64 each (every element index is its own ring). fn and
// weights choose the update (negative controls bind a function that
// blows up); invalidDelta submits, on the first step, one extra delta to a
// page that does not exist (the tick rejects it; the diffusion is
// unaffected); perturbedSteps (> 0) stops the perturbed run after that
// many steps, a run that ended early.
type stabilityConfig struct {
	steps, cells, elems int
	alpha               float64 // diffusion coefficient (stable for alpha <= 0.5)
	noise               float64 // amplitude of the perturbed run's per-step noise
	seed                uint64
	fn                  string
	weights             []float64
	funcs               map[string]mmsb.RecomputeFunc
	invalidDelta        bool
	perturbedSteps      int
}

// stabilityRun is one simulation's trajectory summary.
type stabilityRun struct {
	final      [][]float64
	refErr     float64 // largest relative difference between a propagated value and diffuseStep's
	nonFinite  int     // NaN/Inf values seen in any step
	maxJump    float64 // largest per-step change of any value
	maxAbs     float64
	steps      int
	tickErrors int       // ticks that failed, or did not commit every submitted delta
	traj       []float64 // the value of cell 0, element 0, per step (chart)
}

// simulate runs the diffusion in MMSB pages: state pages s_i hold the
// current values; derived pages d_i = fn(s_{i-1}, s_i, s_{i+1}) are
// recomputed by propagation; each step commits d_i (plus noise, in the
// perturbed run) as the next s_i through the Orchestrator. The state lives
// in the bus, and every step is a logged, replayable tick.
func simulate(ctx context.Context, cfg stabilityConfig, perturb bool) (stabilityRun, error) {
	var out stabilityRun
	e, err := openMem(cfg.funcs)
	if err != nil {
		return out, err
	}
	defer e.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	state, err := createF64Pages(ctx, e, cfg.cells, cfg.elems)
	if err != nil {
		return out, err
	}
	next, err := createF64Pages(ctx, e, cfg.cells, cfg.elems)
	if err != nil {
		return out, err
	}
	w := semiring.AppendF64(nil, cfg.weights...)
	n := cfg.cells
	for i, id := range next {
		if err := e.Bind(ctx, id, cfg.fn, w, []mmsb.PageID{state[(i+n-1)%n], state[i], state[(i+1)%n]}); err != nil {
			return out, err
		}
	}
	o, err := tick.New(e, &tick.Options{QueueSize: 2 * n, Budget: time.Hour})
	if err != nil {
		return out, err
	}
	defer o.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	rng := rand.New(rand.NewPCG(cfg.seed, 0x57ab))
	// Initial condition: a smooth wave per element index, plus (perturbed
	// run) a small seeded offset.
	vals := make([][]float64, n)
	for i := range vals {
		vals[i] = make([]float64, cfg.elems)
		for j := range vals[i] {
			vals[i][j] = math.Sin(2*math.Pi*float64(i)/float64(n) + float64(j))
			if perturb {
				vals[i][j] += float64(cfg.noise * (2*rng.Float64() - 1))
			}
		}
	}
	prev := make([][]float64, n)
	for i := range prev {
		prev[i] = append([]float64(nil), vals[i]...)
	}
	var d delta.Delta
	run := []delta.Run{{}}
	var page []byte
	ref := make([][]float64, n)
	steps := cfg.steps
	if perturb && cfg.perturbedSteps > 0 {
		steps = cfg.perturbedSteps
	}
	for step := 0; step <= steps; step++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		for i := range vals {
			run[0] = delta.Run{Offset: 0, Data: f64Page(vals[i])}
			d = delta.Delta{Page: state[i], Runs: run}
			if err := o.Submit(ctx, &d); err != nil {
				return out, err
			}
		}
		if cfg.invalidDelta && step == 0 {
			if err := o.Submit(ctx, &delta.Delta{Page: missingPage, Runs: []delta.Run{{Data: []byte{1}}}}); err != nil {
				return out, err
			}
		}
		// A tick that returns no error but rejected a delta did not do the
		// step either: count it, as #1 and #6 do.
		if res, err := o.Tick(ctx); err != nil || res.Rejected != 0 || res.Committed != n {
			out.tickErrors++
		}
		out.traj = append(out.traj, vals[0][0])
		if step == steps {
			break
		}
		// What propagation must have computed from the state just committed,
		// by a plain loop that shares no code with the bus.
		diffuseStep(ref, vals, cfg.alpha)
		// Read the propagated next state from the derived pages.
		for i, id := range next {
			page, _, err = e.ReadPage(id, page[:0])
			if err != nil {
				return out, err
			}
			vals[i] = f64s(vals[i], page)
			if len(vals[i]) != cfg.elems {
				out.refErr = math.Inf(1)
			}
			for j, v := range vals[i] {
				if j < len(ref[i]) {
					out.refErr = math.Max(out.refErr, relErr(v, ref[i][j]))
				}
				if perturb {
					v += float64(cfg.noise * (2*rng.Float64() - 1))
					vals[i][j] = v
				}
				if math.IsNaN(v) || math.IsInf(v, 0) {
					out.nonFinite++
					continue
				}
				out.maxJump = math.Max(out.maxJump, math.Abs(v-prev[i][j]))
				out.maxAbs = math.Max(out.maxAbs, math.Abs(v))
				prev[i][j] = v
			}
		}
		out.steps++
	}
	out.final = vals
	return out, nil
}

// diffuseStep computes one explicit diffusion step on a ring, the model #9
// runs in pages: next[i][j] = α·s[i-1][j] + (1−2α)·s[i][j] + α·s[i+1][j],
// summed in that order from 0 as f64.weighted does, so that on a correct
// bus the two agree to the last bit. It is the benchmark's reference: a
// plain loop over float slices, independent of pages, bindings and
// propagation.
func diffuseStep(next, s [][]float64, alpha float64) {
	n := len(s)
	for i := range s {
		if cap(next[i]) < len(s[i]) {
			next[i] = make([]float64, len(s[i]))
		}
		next[i] = next[i][:len(s[i])]
		left, right := s[(i+n-1)%n], s[(i+1)%n]
		for j := range s[i] {
			// float64(): each product rounded before the sum, as
			// f64.weighted does on every platform (a compiler may
			// otherwise fuse them into multiply-adds: docs/semiring.md).
			v := 0.0
			v += float64(left[j] * alpha)
			v += float64(s[i][j] * (1 - 2*alpha))
			v += float64(right[j] * alpha)
			next[i][j] = v
		}
	}
}

// relErr is |got−want| relative to max(1, |want|); equal values (NaN
// included) give 0, a non-finite value against a different one +Inf.
func relErr(got, want float64) float64 {
	if got == want || math.IsNaN(got) && math.IsNaN(want) {
		return 0
	}
	d := math.Abs(got-want) / math.Max(1, math.Abs(want))
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return math.Inf(1)
	}
	return d
}

// stabilityOutcome compares the unperturbed and perturbed runs, and the
// unperturbed run with the reference trajectory.
type stabilityOutcome struct {
	base, pert    stabilityRun
	maxDivergence float64
	refFinalErr   float64 // unperturbed final state vs diffuseStep iterated from the same start
	seconds       float64
}

func measureStability(ctx context.Context, cfg stabilityConfig) (stabilityOutcome, error) {
	var out stabilityOutcome
	t0 := time.Now()
	var err error
	if out.base, err = simulate(ctx, cfg, false); err != nil {
		return out, err
	}
	if out.pert, err = simulate(ctx, cfg, true); err != nil {
		return out, err
	}
	if len(out.pert.final) != len(out.base.final) {
		out.maxDivergence = math.Inf(1)
	}
	for i := range out.base.final {
		if i >= len(out.pert.final) || len(out.pert.final[i]) != len(out.base.final[i]) {
			out.maxDivergence = math.Inf(1)
			continue
		}
		for j, v := range out.base.final[i] {
			dv := math.Abs(v - out.pert.final[i][j])
			if math.IsNaN(dv) {
				dv = math.Inf(1)
			}
			out.maxDivergence = math.Max(out.maxDivergence, dv)
		}
	}
	// The whole unperturbed trajectory again, by the reference alone.
	cur, nxt := make([][]float64, cfg.cells), make([][]float64, cfg.cells)
	for i := range cur {
		cur[i] = make([]float64, cfg.elems)
		for j := range cur[i] {
			cur[i][j] = math.Sin(2*math.Pi*float64(i)/float64(cfg.cells) + float64(j))
		}
	}
	for step := 0; step < cfg.steps; step++ {
		diffuseStep(nxt, cur, cfg.alpha)
		cur, nxt = nxt, cur
	}
	if len(out.base.final) != len(cur) {
		out.refFinalErr = math.Inf(1)
	}
	for i := range out.base.final {
		if i >= len(cur) || len(out.base.final[i]) != len(cur[i]) {
			out.refFinalErr = math.Inf(1)
			continue
		}
		for j, v := range out.base.final[i] {
			out.refFinalErr = math.Max(out.refFinalErr, relErr(v, cur[i][j]))
		}
	}
	out.seconds = time.Since(t0).Seconds()
	return out, nil
}

func defaultStability(steps int, seed uint64) stabilityConfig {
	const alpha = 0.25
	return stabilityConfig{steps: steps, cells: 64, elems: 8, alpha: alpha, noise: 1e-3, seed: seed,
		fn: "f64.weighted", weights: []float64{alpha, 1 - 2*alpha, alpha}}
}

func runStability(ctx context.Context, env *Env, r *Result) error {
	return stabilityBench(ctx, env, r, defaultStability(env.Int("steps"), env.Seed))
}

// stabilityBench runs #9 with cfg and records its checks.
func stabilityBench(ctx context.Context, env *Env, r *Result, cfg stabilityConfig) error {
	out, err := measureStability(ctx, cfg)
	if err != nil {
		return err
	}
	nonFinite := out.base.nonFinite + out.pert.nonFinite
	jump := math.Max(out.base.maxJump, out.pert.maxJump)
	r.Series = map[string][]float64{"cell0_unperturbed": out.base.traj, "cell0_perturbed": out.pert.traj}
	r.Metric("steps", float64(out.base.steps))
	r.Metric("cells", float64(cfg.cells*cfg.elems))
	r.Metric("max_divergence", out.maxDivergence)
	r.Metric("non_finite", float64(nonFinite))
	r.Metric("max_step_jump", jump)
	r.Metric("max_abs", math.Max(out.base.maxAbs, out.pert.maxAbs))
	r.Metric("seconds", out.seconds)
	refErr := math.Max(math.Max(out.base.refErr, out.pert.refErr), out.refFinalErr)
	r.Metric("reference_step_error", math.Max(out.base.refErr, out.pert.refErr))
	r.Metric("reference_final_error", out.refFinalErr)
	maxDiv, maxJump := env.Threshold("max_divergence"), env.Threshold("max_step_jump")
	maxRef := env.Threshold("max_reference_error")
	r.Semantic("matches_reference", refErr <= maxRef, refErr,
		fmt.Sprintf("<= %g relative to a plain-loop diffusion (α = %g): every step of both runs, and the unperturbed final state", maxRef, cfg.alpha))
	r.Semantic("ticks_ok", out.base.tickErrors+out.pert.tickErrors == 0, float64(out.base.tickErrors+out.pert.tickErrors), "every step's tick succeeded, committed every state delta and rejected none")
	// Both runs, counted as they stepped: a run that ended early compares a
	// shorter trajectory and can pass every other check.
	r.Semantic("steps_done", out.base.steps == cfg.steps && out.pert.steps == cfg.steps, float64(min(out.base.steps, out.pert.steps)),
		fmt.Sprintf("both runs did all %d steps (unperturbed %d, perturbed %d)", cfg.steps, out.base.steps, out.pert.steps))
	r.Semantic("no_nan", nonFinite == 0, float64(nonFinite), "0 NaN/Inf values in any step")
	r.Semantic("bounded_divergence", out.maxDivergence < maxDiv, out.maxDivergence, fmt.Sprintf("< %g between unperturbed and perturbed runs", maxDiv))
	r.Semantic("smooth", nonFinite == 0 && jump < maxJump, jump, fmt.Sprintf("max per-step change < %g", maxJump))
	r.Summary = fmt.Sprintf("diffusion over %d f64 cells in %d pages, %d steps ×2 runs (noise %g): divergence %.3g, %d NaN/Inf, max step %.3g, error vs reference %.3g",
		cfg.cells*cfg.elems, 2*cfg.cells, out.base.steps, cfg.noise, out.maxDivergence, nonFinite, jump, refErr)
	return nil
}
