package main

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// TestIncrementalEqualsFull is the example's law: after any sequence of
// wall and goal changes, anywhere (page rings included), the bus's field and
// flow pages are byte-identical to a from-scratch BFS of the same grid. One
// game is shared by the checks (building one costs a full first
// propagation); each check edits it further and ticks.
func TestIncrementalEqualsFull(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		kind string
		grid int // the open map's ring graph is dense: a smaller grid keeps the test fast
	}{{mapRooms, 64}, {mapOpen, 32}} {
		kind := tc.kind
		t.Run(kind, func(t *testing.T) {
			useGrid(t, tc.grid)
			g, err := newGame(ctx, "", 5, kind, 3, 16, noFaults)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			var full Field
			rapid.Check(t, func(rt *rapid.T) {
				for range rapid.IntRange(1, 2).Draw(rt, "ticks") {
					for range rapid.IntRange(0, 6).Draw(rt, "edits") {
						x := rapid.IntRange(0, gridSide-1).Draw(rt, "x")
						y := rapid.IntRange(0, gridSide-1).Draw(rt, "y")
						v := byte(rapid.IntRange(tileFloor, tileGoal).Draw(rt, "tile"))
						if err := g.setTile(ctx, tileAt(x, y), v); err != nil {
							rt.Fatal(err)
						}
					}
					if _, err := g.orch.Tick(ctx); err != nil {
						rt.Fatal(err)
					}
					full.Compute(g.world)
					diff, err := g.mismatch(&full)
					if err != nil {
						rt.Fatal(err)
					}
					if diff != "" {
						rt.Fatal(diff)
					}
				}
			})
		})
	}
}

// TestCheckerCatchesFaults is the negative control: a field page bound to
// the wrong page's ring distances, or a flow page never bound, must make the
// comparison with the BFS fail.
func TestCheckerCatchesFaults(t *testing.T) {
	useGrid(t, 64)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		f    faults
	}{
		{"wrong edge", faults{wrongEdge: 5, missingBinding: -1}},
		{"missing binding", faults{wrongEdge: -1, missingBinding: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := newGame(ctx, "", 1, mapRooms, 8, 16, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			var full Field
			full.Compute(g.world)
			diff, err := g.mismatch(&full)
			if err != nil {
				t.Fatal(err)
			}
			if diff == "" {
				t.Fatalf("the checker did not notice the %s", tc.name)
			}
			t.Logf("caught: %s", diff)
		})
	}
}

// TestReplayDeterminism runs a short recorded session and replays it from
// every checkpoint (and from LSN 1) to sampled ticks: the state hash of each
// replay equals the live hash recorded at that tick. The negative control
// compares a replay with the hash of the tick after it.
func TestReplayDeterminism(t *testing.T) {
	useGrid(t, 128)
	ctx := context.Background()
	cfg := config{Seed: 2, Map: mapRooms, Goals: 4, Agents: 1024, Ticks: 30, EditsPerTick: 3, GoalEvery: 7,
		CheckpointEvery: 10, SweepPages: []int{1, 64}, Repeats: 1}
	rep, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Equal || !rep.ReplayEqual || rep.ReplayChecks != 12 || rep.Checkpoints != 3 {
		t.Fatalf("equal=%v (%s), replay equal=%v after %d replays from %d checkpoints", rep.Equal, rep.Mismatch,
			rep.ReplayEqual, rep.ReplayChecks, rep.Checkpoints)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"equal", "incremental_ms", "full_ms", "speedup", "tick_max_ms", "replay_equal", "sweep"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}

	g, err := newGame(ctx, "", 3, mapRooms, 4, 256, noFaults)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var recs []tickRecord
	for n := uint64(1); n <= 4; n++ {
		if err := g.scriptedEdits(ctx, n, 2, 0); err != nil {
			t.Fatal(err)
		}
		if err := g.stepAgents(ctx, n); err != nil {
			t.Fatal(err)
		}
		if _, err := g.orch.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		h, err := g.bus.StateHash()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, tickRecord{lsn: g.bus.LastLSN(), hash: h})
		if n == 2 {
			if _, err := g.bus.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	ok, err := replayMatches(ctx, g.bus, recs[3], false)
	if err != nil || !ok {
		t.Fatalf("replay to tick 4 from the checkpoint: ok=%v err=%v", ok, err)
	}
	wrong := tickRecord{lsn: recs[2].lsn, hash: recs[3].hash}
	if ok, err := replayMatches(ctx, g.bus, wrong, false); err != nil || ok {
		t.Fatalf("negative control: a replay to tick 3 matched tick 4's hash (ok=%v err=%v)", ok, err)
	}
}

// useGrid runs a test on a smaller grid (the full 256×256 one is the
// command's default) and restores the default afterwards.
func useGrid(t *testing.T, side int) {
	setGridSide(side)
	t.Cleanup(func() { setGridSide(defaultGridSide) })
}

// TestSharedReaderPicture: with the bus's pages in shared memory, the state
// the picture is drawn from, read through a shared-memory reader's
// consistent snapshot, equals what Bus.ReadPage returns and the
// from-scratch BFS.
func TestSharedReaderPicture(t *testing.T) {
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skip("shared mode needs /dev/shm:", err)
	}
	useGrid(t, 64)
	ctx := context.Background()
	g, err := newGame(ctx, t.TempDir(), 4, mapRooms, 3, 300, noFaults)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for n := uint64(1); n <= 5; n++ {
		if err := g.scriptedEdits(ctx, n, 4, 2); err != nil {
			t.Fatal(err)
		}
		if err := g.stepAgents(ctx, n); err != nil {
			t.Fatal(err)
		}
		if _, err := g.orch.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fromReader, lsn, err := g.readerSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if lsn != g.bus.LastLSN() {
		t.Fatalf("reader snapshot at LSN %d, bus at %d", lsn, g.bus.LastLSN())
	}
	fromBus, err := g.busSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromReader, fromBus) {
		t.Fatal("the shared-memory reader's snapshot differs from Bus.ReadPage")
	}
	var full Field
	full.Compute(g.world)
	if !reflect.DeepEqual(fromReader.field.Dist, full.Dist) || !reflect.DeepEqual(fromReader.field.Flow, full.Flow) ||
		!reflect.DeepEqual(fromReader.world, g.world.Tiles) || len(fromReader.agents) != 300 {
		t.Fatal("the reader's field, flow or tiles differ from the BFS and the model")
	}
}
