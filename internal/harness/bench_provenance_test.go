package harness

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

func tinyProvenance() provenanceConfig {
	return provenanceConfig{depth: 31, limit: mmsb.DefaultProvenanceDepth, queries: 5}
}

func TestProvenanceQuick(t *testing.T) {
	env := testEnv(t, "provenance", nil)
	var r Result
	err := provenanceBench(bg, env, &r, tinyProvenance())
	requirePass(t, &r, err)
	if r.Metrics["chain_depth"] != 31 {
		t.Fatalf("chain depth %v", r.Metrics["chain_depth"])
	}
	if r.Metrics["deep_chain_depth"] != mmsb.DefaultProvenanceDepth {
		t.Fatalf("deep chain walked to %v, want the limit %d", r.Metrics["deep_chain_depth"], mmsb.DefaultProvenanceDepth)
	}
}

// TestProvenanceNegativeBrokenChain: a client write into the middle of the
// chain makes the last page's bytes come from there, not from the root;
// the benchmark's expected chain no longer matches.
func TestProvenanceNegativeBrokenChain(t *testing.T) {
	env := testEnv(t, "provenance", nil)
	cfg := tinyProvenance()
	cfg.overwriteMiddle = true
	var r Result
	err := provenanceBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "chain_correct")
}

// TestProvenanceNegativeUnboundedQuery: the chain deeper than the limit is
// asked with a depth past it (a query that does not stop at the limit);
// the walk finds the whole chain and depth_limit_enforced must fail.
func TestProvenanceNegativeUnboundedQuery(t *testing.T) {
	env := testEnv(t, "provenance", nil)
	cfg := tinyProvenance()
	cfg.deepQueryDepth = 1000
	var r Result
	err := provenanceBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "depth_limit_enforced")
	if got := r.Metrics["deep_chain_depth"]; got != float64(cfg.limit+8) {
		t.Fatalf("unbounded walk found depth %v, want %d", got, cfg.limit+8)
	}
}

// TestWalkDepth: the depth is found from the Parent links; an answer whose
// ChainDepth or Depth fields disagree with its links, or whose links point
// forward, is refused.
func TestWalkDepth(t *testing.T) {
	chain := func(n int) *mmsb.ProvenanceResult {
		res := &mmsb.ProvenanceResult{ChainDepth: n - 1}
		for i := 0; i < n; i++ {
			res.Writes = append(res.Writes, mmsb.ProvenanceWrite{Depth: i, Parent: i - 1})
		}
		return res
	}
	if d, err := walkDepth(chain(32)); err != nil || d != 31 {
		t.Fatalf("chain of 32 writes: depth %d, %v", d, err)
	}
	lying := chain(5)
	lying.ChainDepth = 31 // claims a depth its links do not have
	if _, err := walkDepth(lying); !errors.Is(err, errBadAnswer) {
		t.Fatalf("ChainDepth that disagrees with the walk accepted: %v", err)
	}
	forward := chain(5)
	forward.Writes[2].Parent = 3
	if _, err := walkDepth(forward); !errors.Is(err, errBadAnswer) {
		t.Fatalf("forward parent link accepted: %v", err)
	}
	wrongDepth := chain(5)
	wrongDepth.Writes[4].Depth = 2
	if _, err := walkDepth(wrongDepth); !errors.Is(err, errBadAnswer) {
		t.Fatalf("Depth field that disagrees with the walk accepted: %v", err)
	}
	if _, err := walkDepth(&mmsb.ProvenanceResult{}); !errors.Is(err, errBadAnswer) {
		t.Fatalf("empty answer accepted: %v", err)
	}
}

// TestProvenanceNegativeValidatorAnswers: the provenance validator is fed
// answers whose first write is one LSN early (the bus's own answers, which
// the benchmark's chain checks use, are untouched); it must find that they
// disagree with the log, and only validator may fail. The clean run is
// TestProvenanceQuick.
func TestProvenanceNegativeValidatorAnswers(t *testing.T) {
	env := testEnv(t, "provenance", nil)
	cfg := tinyProvenance()
	cfg.validatorAnswers = func(e *mmsb.Bus) func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
		return func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
			res, err := e.Provenance(ctx, id, off, n, 0)
			if err == nil && len(res.Writes) > 0 && res.Writes[0].LSN > 1 {
				res.Writes[0].LSN--
			}
			return res, err
		}
	}
	var r Result
	err := provenanceBench(bg, env, &r, cfg)
	requireOnlyFail(t, &r, err, "validator")
}

// TestProvenanceNegativeValidatorComparedNothing: every page is written
// while the validator asks about it (the answer function commits a byte to
// the page, then gives the bus's own answer), so each sample is skipped as
// written while asked and no answer is compared with the log: the report
// has no problem and nothing checked. Only validator fails (its report
// says nothing was compared; before that was required, "> 0 samples
// checked" failed it, and dropped, every test passed).
func TestProvenanceNegativeValidatorComparedNothing(t *testing.T) {
	env := testEnv(t, "provenance", nil)
	cfg := tinyProvenance()
	cfg.validatorAnswers = func(e *mmsb.Bus) func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
		return func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
			if _, err := e.Commit(ctx, []delta.Delta{{Page: id, Runs: []delta.Run{{Offset: uint32(off), Data: []byte{0x5a}}}}}); err != nil {
				return nil, err
			}
			return e.Provenance(ctx, id, off, n, 0)
		}
	}
	var r Result
	err := provenanceBench(bg, env, &r, cfg)
	requireOnlyFail(t, &r, err, "validator")
	if got := r.Metrics["validator_samples"]; got != 0 {
		t.Fatalf("validator_samples = %v, want 0 (every sample written while asked)", got)
	}
	for _, c := range r.Checks {
		if c.Name == "validator" && c.Value != 0 {
			t.Fatalf("validator found %v problem(s), want none (nothing compared, nothing wrong): %s", c.Value, r.Summary)
		}
	}
}

// cutAnswer makes a chain answer end k hops below the page asked: the
// writes past depth k are dropped and ChainDepth says k, so the answer is
// consistent with itself (walkDepth accepts it) but shorter than the chain.
func cutAnswer(res *mmsb.ProvenanceResult, k int) {
	if k < 0 || k >= len(res.Writes) {
		return
	}
	res.Writes = res.Writes[:k+1]
	res.ChainDepth = k
}

// TestProvenanceNegativeWrongWalker: a provenance walk that goes one hop
// short, one hop long or stops early, with answers consistent with
// themselves, must fail chain_depth. Before, chain_depth compared range 0's
// walk with the configured depth: a walk wrong only on range 1 passed it,
// and so did a walk that stopped at the configured depth on a chain built
// one hop longer ("stops at the configured depth").
func TestProvenanceNegativeWrongWalker(t *testing.T) {
	for _, tc := range []struct {
		name      string
		extraHops int
		walker    func(res *mmsb.ProvenanceResult, k int)
	}{
		{"one short", 0, func(res *mmsb.ProvenanceResult, _ int) { cutAnswer(res, res.ChainDepth-1) }},
		{"one long", 0, func(res *mmsb.ProvenanceResult, _ int) {
			last := len(res.Writes) - 1
			w := res.Writes[last]
			w.Parent, w.Depth = last, w.Depth+1
			res.Writes = append(res.Writes, w)
			res.ChainDepth++
		}},
		{"stops early", 0, func(res *mmsb.ProvenanceResult, _ int) { cutAnswer(res, 8) }},
		{"one short on range 1 only", 0, func(res *mmsb.ProvenanceResult, k int) {
			if k == 1 {
				cutAnswer(res, res.ChainDepth-1)
			}
		}},
		{"stops at the configured depth", 1, func(res *mmsb.ProvenanceResult, _ int) {
			cutAnswer(res, tinyProvenance().depth)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, "provenance", nil)
			cfg := tinyProvenance()
			cfg.extraHops, cfg.wrongWalker = tc.extraHops, tc.walker
			var r Result
			err := provenanceBench(bg, env, &r, cfg)
			requireFail(t, &r, err, "chain_depth")
		})
	}
}

// TestProvenanceBuiltLongerThanConfigured: the chain built one hop longer
// than the configured depth, walked right, passes chain_depth (it compares
// with the chain built, counted from the bus's bindings); the control of
// the "stops at the configured depth" row above.
func TestProvenanceBuiltLongerThanConfigured(t *testing.T) {
	env := testEnv(t, "provenance", nil)
	cfg := tinyProvenance()
	cfg.depth, cfg.extraHops = 30, 1
	var r Result
	err := provenanceBench(bg, env, &r, cfg)
	requirePass(t, &r, err)
	if r.Metrics["chain_depth"] != 31 || r.Metrics["built_depth"] != 31 {
		t.Fatalf("chain depth %v, built %v, want 31 and 31", r.Metrics["chain_depth"], r.Metrics["built_depth"])
	}
}

// TestProvenanceNegativeValidatorLogLost: the bus's log files are removed
// before the validator runs, and every answer says its write is lost (as a
// bus that kept no log answers). Every sample reaches the comparison
// (Checked counts each) but is skipped there, its last writer not in any
// log: the report has no problem, Checked > 0, and nothing was compared
// (NotCompared). Only validator fails: its "> 0 samples checked" passed
// it, Checked counting skipped samples.
func TestProvenanceNegativeValidatorLogLost(t *testing.T) {
	env := testEnv(t, "provenance", nil)
	cfg := tinyProvenance()
	cfg.validatorAnswers = func(e *mmsb.Bus) func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
		fs, wal := e.FS(), e.WALDir()
		names, err := fs.List(wal)
		if err != nil || len(names) == 0 {
			t.Fatalf("wal %s: %v %v", wal, names, err)
		}
		for _, n := range names {
			if err := fs.Remove(fs.Join(wal, n)); err != nil {
				t.Fatalf("remove %s: %v", n, err)
			}
		}
		return func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
			return &mmsb.ProvenanceResult{Writes: []mmsb.ProvenanceWrite{{Page: id, Lost: true}}}, nil
		}
	}
	var r Result
	err := provenanceBench(bg, env, &r, cfg)
	requireOnlyFail(t, &r, err, "validator")
	if got := r.Metrics["validator_samples"]; got == 0 {
		t.Fatalf("validator_samples = 0: the control needs samples checked and skipped, not none checked")
	}
	if c := checkNamed(t, &r, "validator"); c.Value != 0 || !strings.Contains(c.Target, "not compared") && !strings.Contains(c.Target, "could be compared") {
		t.Fatalf("validator: %+v, want no problem and the reason nothing was compared", c)
	}
}
