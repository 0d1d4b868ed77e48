package harness

import (
	"errors"
	"math"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/vfs"
)

func tinyReplay(env *Env) replayConfig {
	return replayConfig{ticks: 40, sources: 16, elems: 16, deltasPerTick: 6, seed: env.Seed}
}

func TestReplayQuick(t *testing.T) {
	env := testEnv(t, "replay", nil)
	var r Result
	err := replayBench(bg, env, &r, tinyReplay(env))
	requirePass(t, &r, err)
	if r.Metrics["derived_writes"] == 0 {
		t.Fatal("no propagation happened")
	}
}

// TestReplayNegativeLyingLog: a log that claims a different byte than was
// applied (CRC fixed up, so only a replay comparison can see it).
func TestReplayNegativeLyingLog(t *testing.T) {
	env := testEnv(t, "replay", nil)
	cfg := tinyReplay(env)
	cfg.tamper = func(fs vfs.FS, walDir string) error {
		_, err := CorruptLastClientDelta(fs, walDir, true)
		return err
	}
	var r Result
	err := replayBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "bytes_differing")
}

// TestReplayNegativeFlippedByte: a plain bit flip is refused by replay.
func TestReplayNegativeFlippedByte(t *testing.T) {
	env := testEnv(t, "replay", nil)
	cfg := tinyReplay(env)
	cfg.tamper = func(fs vfs.FS, walDir string) error {
		_, err := CorruptLastClientDelta(fs, walDir, false)
		return err
	}
	var r Result
	err := replayBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "replay_ran", "bytes_differing")
}

// TestReplayNegativeCorruptCheckpoint: the midway checkpoint is damaged, so
// no replay can start from it. Replay from LSN 1 would still match the live
// state; the benchmark must not count that as a replay from the checkpoint.
func TestReplayNegativeCorruptCheckpoint(t *testing.T) {
	env := testEnv(t, "replay", nil)
	cfg := tinyReplay(env)
	cfg.tamperCheckpoint = func(fs vfs.FS, path string) error {
		return flipFileByte(fs, path, 0.5)
	}
	var r Result
	err := replayBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "replay_from_checkpoint")
	requireFail(t, &r, err, "replay_ran")
}

// TestReplayNegativeIndependentReplayFromStart: the independent replay that
// must start from the newest checkpoint starts from LSN 1 instead (as
// mmsb.Replay would, passing over a checkpoint it cannot load). Its state
// equals the live one, so no byte check sees it; replay_from_checkpoint
// must fail, and only it (it passed: where mmsb.Replay started was not
// read). The clean run is TestReplayQuick.
func TestReplayNegativeIndependentReplayFromStart(t *testing.T) {
	env := testEnv(t, "replay", nil)
	cfg := tinyReplay(env)
	cfg.indepFromCkpt = &mmsb.ReplayTarget{FromEmpty: true}
	var r Result
	err := replayBench(bg, env, &r, cfg)
	requireOnlyFail(t, &r, err, "replay_from_checkpoint")
}

// TestReplayNegativeImpureFunction: the third layer is bound to a function
// with hidden state (its output drifts with every call). Propagation logs
// what it computed and replay re-applies those logged bytes, so the replays
// agree with the live state bit for bit; only re-running the functions on
// the replayed parents shows that the logged bytes are not what the
// function computes.
func TestReplayNegativeImpureFunction(t *testing.T) {
	env := testEnv(t, "replay", nil)
	cfg := tinyReplay(env)
	calls := 0
	cfg.l3Func = "harness.drift"
	cfg.funcs = map[string]mmsb.RecomputeFunc{"harness.drift": func(in [][]byte, _, out []byte) error {
		calls++
		for j := 0; j+8 <= len(out) && j+8 <= len(in[0]); j += 8 {
			semiring.PutF64(out, j/8, semiring.F64At(in[0], j/8)*0.5+1+float64(calls)*1e-6)
		}
		return nil
	}}
	var r Result
	err := replayBench(bg, env, &r, cfg)
	requireFail(t, &r, err, "recompute_equal")
	for _, c := range r.Checks {
		if c.Name == "bytes_differing" && !c.Pass {
			t.Fatalf("replay itself diverged; the control must show a failure replay cannot see: %+v", c)
		}
	}
	if r.Metrics["recompute_l2"] == 0 {
		t.Fatalf("recompute L2 is 0 for a drifting function: %v", r.Metrics)
	}
}

// TestReplayNegativeBindingNotRecomputed: the third layer is bound to a
// function that fails when the page it is asked to fill already holds
// its output (out comes pre-filled with the page's bytes): every tick
// computes it on changed inputs and succeeds, and the replays apply the
// logged bytes, so only the re-run of each binding on the replayed
// parents meets the failure, and those bindings are not compared. Only
// recompute_equal fails: its "every binding recomputed" had no control.
func TestReplayNegativeBindingNotRecomputed(t *testing.T) {
	env := testEnv(t, "replay", nil)
	cfg := tinyReplay(env)
	cfg.l3Func = "harness.fresh"
	cfg.funcs = map[string]mmsb.RecomputeFunc{"harness.fresh": func(in [][]byte, _, out []byte) error {
		same := true
		for j := 0; j+8 <= len(out) && j+8 <= len(in[0]); j += 8 {
			v := semiring.F64At(in[0], j/8)*0.5 + 1
			same = same && semiring.F64At(out, j/8) == v
			semiring.PutF64(out, j/8, v)
		}
		if same {
			return errors.New("the page already holds this output")
		}
		return nil
	}}
	var r Result
	err := replayBench(bg, env, &r, cfg)
	requireOnlyFail(t, &r, err, "recompute_equal")
	if r.Metrics["recompute_bytes_differing"] != 0 || r.Metrics["recompute_bindings"] != 24 {
		t.Fatalf("want the 24 bindings of layers 1 and 2 recomputed, none differing, layer 3's 8 not: %v", r.Metrics)
	}
}

// TestF64SumSqEveryCell: the L2 terms are summed over every cell and a
// non-finite difference or a length mismatch makes the sum +Inf.
func TestF64SumSqEveryCell(t *testing.T) {
	a, b := f64Page([]float64{1, 2, 3}), f64Page([]float64{1, 2.5, 1})
	if got := f64SumSq(a, b); got != 0.25+4 {
		t.Fatalf("sum of squares %v, want 4.25", got)
	}
	nan := f64Page([]float64{1, math.NaN(), 3})
	if got := f64SumSq(nan, nan); got != 0 {
		t.Fatalf("identical NaN cells: %v, want 0", got)
	}
	if got := f64SumSq(a, nan); !math.IsInf(got, 1) {
		t.Fatalf("NaN against a number: %v, want +Inf", got)
	}
	if got := f64SumSq(a, a[:16]); !math.IsInf(got, 1) {
		t.Fatalf("length mismatch: %v, want +Inf", got)
	}
}

// TestReplayNegativeRejectedDelta: one tick is handed a delta to a page
// that does not exist, which it rejects; the rest of the run (and every
// replay) is as before, so only ticks_ok may fail. The clean run is
// TestReplayQuick.
func TestReplayNegativeRejectedDelta(t *testing.T) {
	env := testEnv(t, "replay", nil)
	cfg := tinyReplay(env)
	cfg.invalidDelta = true
	var r Result
	err := replayBench(bg, env, &r, cfg)
	requireOnlyFail(t, &r, err, "ticks_ok")
	if c := checkNamed(t, &r, "ticks_ok"); c.Value != 1 {
		t.Fatalf("%v failed ticks, want 1", c.Value)
	}
}

// TestReplayNegativeNothingPropagated: the derivation graph is never
// bound, so the ticks log no derived delta and the replays exercise none;
// they still agree, so only propagation_logged may fail.
func TestReplayNegativeNothingPropagated(t *testing.T) {
	env := testEnv(t, "replay", nil)
	cfg := tinyReplay(env)
	cfg.noBindings = true
	var r Result
	err := replayBench(bg, env, &r, cfg)
	requireOnlyFail(t, &r, err, "propagation_logged")
}
