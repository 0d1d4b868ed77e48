package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/validate"
)

func init() {
	register(Benchmark{ID: 4, Key: "isolation", Name: "Isolation", Run: runIsolation, Sizes: []Size{{"runs", validate.MaxPurityRuns, false}},
		Gates: []string{"min_purity", "max_side_effects"}})
}

// UserMeanFunc is the user recompute function registered by benchmark #4
// next to the built-ins: the element-wise mean of float64 parents.
const UserMeanFunc = "harness.mean"

// userMean computes the element-wise mean of float64 inputs into out.
func userMean(inputs [][]byte, params, out []byte) error {
	if len(inputs) == 0 {
		return fmt.Errorf("harness.mean: no inputs: %w", semiring.ErrBadInput)
	}
	for j := 0; j+8 <= len(out); j += 8 {
		var s float64
		for _, in := range inputs {
			if j+8 <= len(in) {
				s += semiring.F64At(in, j/8)
			}
		}
		semiring.PutF64(out, j/8, s/float64(len(inputs)))
	}
	return nil
}

// isolationConfig sizes benchmark #4. extra functions (negative controls:
// an impure one) are registered and bound to float64 pages with two
// parents and no params; unspecified functions (a negative control) are
// registered with no binding spec, as a new built-in without an
// isolationSpecs entry would be; noPropagate (a negative control) skips
// the propagation after the inputs are written, leaving every bound page
// stale, so that no page can be compared with its function's output;
// beforeCheck (a negative control), when set, runs on the bus right before
// the purity validator (one that unbinds a page leaves a function bound by
// the benchmark that the validator never checks).
type isolationConfig struct {
	runs        int
	seed        uint64
	extra       map[string]mmsb.RecomputeFunc
	unspecified map[string]mmsb.RecomputeFunc
	noPropagate bool
	beforeCheck func(ctx context.Context, e *mmsb.Bus) error
}

// isolationOutcome is what #4 measured.
type isolationOutcome struct {
	rep                validate.Report
	funcs, covered     int
	uncovered          []string
	bindings, impure   int
	sideEffects, calls int64
	nondeterministic   int64
	consistent         int // bound pages compared with their function's output
}

// bindSpec is how #4 binds one function: the page type, and params.
type bindSpec struct {
	typ     string // "f64", "i64", "bool"
	params  func(parents int) []byte
	parents int
}

func f64Weights(n int) []byte {
	w := make([]float64, n)
	for i := range w {
		w[i] = 0.5 + float64(i)
	}
	return semiring.AppendF64(nil, w...)
}

// isolationSpecs says how to bind every built-in (a new built-in without an
// entry here makes the coverage check fail, so the benchmark cannot
// silently skip it).
var isolationSpecs = map[string]bindSpec{
	"bool.or":      {typ: "bool", parents: 3},
	"bool.reach":   {typ: "bool", parents: 3, params: func(n int) []byte { return []byte{1, 0, 1}[:n] }},
	"f64.max":      {typ: "f64", parents: 3},
	"f64.maxplus":  {typ: "f64", parents: 3, params: f64Weights},
	"f64.min":      {typ: "f64", parents: 3},
	"f64.minplus":  {typ: "f64", parents: 3, params: f64Weights},
	"f64.sum":      {typ: "f64", parents: 3},
	"f64.weighted": {typ: "f64", parents: 3, params: f64Weights},
	"i64.sum":      {typ: "i64", parents: 3},
	"passthrough":  {typ: "f64", parents: 1, params: func(int) []byte { return semiring.PassthroughParams(semiring.TransformAffine, 2, 1) }},
	UserMeanFunc:   {typ: "f64", parents: 2},
}

// measureIsolation binds every registered recompute function, propagates
// random inputs through them, then runs the purity validator: each function
// re-run cfg.runs times on copies of its inputs.
func measureIsolation(ctx context.Context, cfg isolationConfig) (isolationOutcome, error) {
	var out isolationOutcome
	funcs := map[string]mmsb.RecomputeFunc{UserMeanFunc: userMean}
	for n, f := range cfg.extra {
		funcs[n] = f
	}
	for n, f := range cfg.unspecified {
		funcs[n] = f
	}
	e, err := openMem(funcs)
	if err != nil {
		return out, err
	}
	defer e.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	rng := rand.New(rand.NewPCG(cfg.seed, 0x150))
	names := e.Funcs()
	out.funcs = len(names)
	const elems = 16
	var ds []delta.Delta
	for _, name := range names {
		spec, ok := isolationSpecs[name]
		if !ok && cfg.extra[name] != nil {
			spec, ok = bindSpec{typ: "f64", parents: 2}, true
		}
		if !ok {
			out.uncovered = append(out.uncovered, name)
			continue
		}
		size := elems * 8
		if spec.typ == "bool" {
			size = elems
		}
		specs := make([]mmsb.PageSpec, spec.parents+1)
		for i := range specs {
			specs[i] = mmsb.PageSpec{Size: size, Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte(spec.typ)}}}
		}
		ids, err := e.CreatePages(ctx, specs)
		if err != nil {
			return out, err
		}
		var params []byte
		if spec.params != nil {
			params = spec.params(spec.parents)
		}
		if err := e.Bind(ctx, ids[0], name, params, ids[1:]); err != nil {
			return out, fmt.Errorf("bind %s: %w", name, err)
		}
		out.covered++
		for _, p := range ids[1:] {
			data := make([]byte, size)
			for j := 0; j < elems; j++ {
				switch spec.typ {
				case "bool":
					data[j] = byte(rng.IntN(2))
				case "i64":
					semiring.PutI64(data, j, rng.Int64N(1000)-500)
				default:
					semiring.PutF64(data, j, rng.Float64()*10-5)
				}
			}
			ds = append(ds, delta.Delta{Page: p, Runs: []delta.Run{{Offset: 0, Data: data}}})
		}
	}
	if len(ds) > 0 {
		if _, err := e.Commit(ctx, ds); err != nil {
			return out, err
		}
	}
	if !cfg.noPropagate {
		if _, err := e.Propagate(ctx); err != nil {
			return out, err
		}
	}
	if cfg.beforeCheck != nil {
		if err := cfg.beforeCheck(ctx, e); err != nil {
			return out, err
		}
	}
	out.rep, err = validate.Purity(ctx, validate.Live(e), validate.Options{Runs: cfg.runs, OnProblem: func(p validate.Problem) {
		switch p.Kind {
		case validate.KindSideEffect:
			out.sideEffects++
		case validate.KindNondeterministic:
			out.nondeterministic++
		}
	}})
	if err != nil {
		return out, err
	}
	bad := map[mmsb.PageID]bool{}
	for _, p := range out.rep.Problems {
		bad[p.Page] = true
	}
	out.bindings = int(out.rep.Checked)
	out.impure = len(bad)
	calls, _ := out.rep.Figure("calls") // calls made, as the validator counted them
	out.calls = int64(calls)
	// Pages the validator compared with their function's output: only a
	// page whose last derivation read its parents' current bytes can be,
	// and a stale one is passed over without a problem.
	consistent, _ := out.rep.Figure("consistency_checked")
	out.consistent = int(consistent)
	sort.Strings(out.uncovered)
	return out, nil
}

func runIsolation(ctx context.Context, env *Env, r *Result) error {
	return isolationBench(ctx, env, r, isolationConfig{runs: max(2, env.Int("runs")), seed: env.Seed})
}

// isolationBench runs #4 with cfg and records its checks.
func isolationBench(ctx context.Context, env *Env, r *Result, cfg isolationConfig) error {
	out, err := measureIsolation(ctx, cfg)
	if err != nil {
		return err
	}
	purity := 0.0
	if out.bindings > 0 {
		purity = float64(out.bindings-out.impure) / float64(out.bindings)
	}
	r.Metric("functions", float64(out.funcs))
	r.Metric("bindings", float64(out.bindings))
	r.Metric("calls", float64(out.calls))
	r.Metric("purity", purity)
	r.Metric("side_effects", float64(out.sideEffects))
	r.Metric("nondeterministic", float64(out.nondeterministic))
	r.Metric("problems", float64(out.rep.Total))
	r.Metric("consistency_checked", float64(out.consistent))
	minPurity, maxSide := env.Threshold("min_purity"), env.Threshold("max_side_effects")
	// Checked as the validator counted it: the bindings it ran must be
	// the ones the benchmark made. consistent and purity are taken over
	// the bindings the validator ran, so a binding it never ran passed
	// every check (TestIsolationNegativeBindingNotChecked).
	r.Semantic("coverage", len(out.uncovered) == 0 && out.covered == out.funcs && out.bindings == out.covered, float64(out.covered),
		fmt.Sprintf("every registered function bound and checked (%d; %d bound, %d checked by the validator)%s", out.funcs, out.covered, out.bindings, listIf(" missing: ", out.uncovered)))
	r.Semantic("purity", purity >= minPurity && out.rep.Total == 0, purity*100, fmt.Sprintf(">= %g%% (deterministic, consistent with the page)", minPurity*100))
	r.Semantic("consistent", out.bindings > 0 && out.consistent == out.bindings, float64(out.consistent),
		fmt.Sprintf("every bound page (%d) compared with its function of its parents", out.bindings))
	r.Semantic("side_effects", float64(out.sideEffects) <= maxSide, float64(out.sideEffects), fmt.Sprintf("<= %g inputs modified", maxSide))
	r.Summary = fmt.Sprintf("%d functions (%d built-in + user) re-run %d× on copied inputs: purity %.0f%%, %d side effects, %d non-deterministic",
		out.funcs, out.funcs-1-len(cfg.extra)-len(cfg.unspecified), cfg.runs, purity*100, out.sideEffects, out.nondeterministic)
	if len(out.rep.Problems) > 0 {
		r.Summary += "; first: " + out.rep.Problems[0].String()
	}
	return nil
}

func listIf(prefix string, xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return prefix + strings.Join(xs, ", ")
}
