package harness

import (
	"testing"

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
