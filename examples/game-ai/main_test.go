package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/mmsb-go/mmsb/internal/testutil"
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
		testutil.Missing(t, "shared mode needs /dev/shm: %v", err)
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

// TestRunRejectsBadConfig guards the command's flags: --ticks below 1,
// --agents or --edits negative or too large must be refused with
// ErrBadFlag naming the flag. Before, --ticks -5 panicked (makeslice),
// --ticks 0 printed NaN speed-ups (and --json failed on them), negative
// --agents and --edits silently ran with none, and --edits 100000000
// deadlocked: the driver filled the tick intake queue from the goroutine
// that must tick to drain it.
func TestRunRejectsBadConfig(t *testing.T) {
	useGrid(t, 32)
	base := config{Seed: 1, Map: mapRooms, Goals: 2, Agents: 16, Ticks: 2, EditsPerTick: 1, GoalEvery: 2,
		CheckpointEvery: 2, SweepPages: []int{1}, Repeats: 1}
	for _, tc := range []struct {
		name    string
		edit    func(*config)
		mention string
	}{
		{"negative ticks", func(c *config) { c.Ticks = -5 }, "--ticks"},
		{"zero ticks", func(c *config) { c.Ticks = 0 }, "--ticks"},
		{"negative agents", func(c *config) { c.Agents = -5 }, "--agents"},
		{"huge agents", func(c *config) { c.Agents = 100_000_000 }, "--agents"},
		{"negative edits", func(c *config) { c.EditsPerTick = -1 }, "--edits"},
		{"huge edits", func(c *config) { c.EditsPerTick = 100_000_000 }, "--edits"},
		{"bad map", func(c *config) { c.Map = "maze" }, "--map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			done := make(chan error, 1)
			go func() {
				_, err := run(context.Background(), cfg)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrBadFlag) || !strings.Contains(err.Error(), tc.mention) {
					t.Fatalf("got %v, want ErrBadFlag mentioning %s", err, tc.mention)
				}
			case <-time.After(time.Minute):
				t.Fatal("run did not return in a minute (deadlocked?)")
			}
		})
	}
	if _, err := run(context.Background(), base); err != nil {
		t.Fatalf("the valid base config: %v", err)
	}
}

// TestAgentsFollowTheField guards the agents' step, which no other test
// checked (reversing every step passed them all): an agent on a tile with
// a direction moves one tile that way, to a tile one step nearer a goal;
// an agent with nowhere to go respawns on a tile that has a direction. The
// expectations come from the from-scratch BFS of the grid before the tick,
// not from the bus.
func TestAgentsFollowTheField(t *testing.T) {
	useGrid(t, 64)
	ctx := context.Background()
	g, err := newGame(ctx, "", 6, mapRooms, 3, 500, noFaults)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var field Field
	moved, respawned := 0, 0
	for n := uint64(1); n <= 12; n++ {
		field.Compute(g.world) // the field the bus holds before this tick's edits
		before, err := g.busSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := g.scriptedEdits(ctx, n, 3, 4); err != nil {
			t.Fatal(err)
		}
		if err := g.stepAgents(ctx, n); err != nil {
			t.Fatal(err)
		}
		if _, err := g.orch.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		after, err := g.busSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		for a, from := range before.agents {
			to := after.agents[a]
			src, dst := tileAt(from[0], from[1]), tileAt(to[0], to[1])
			if dir := field.Flow[src]; dir != dirNone {
				if to != [2]int{from[0] + dirDX[dir], from[1] + dirDY[dir]} || field.Dist[dst] != field.Dist[src]-1 {
					t.Fatalf("tick %d agent %d: at %v (distance %d, direction %d) went to %v (distance %d)",
						n, a, from, field.Dist[src], dir, to, field.Dist[dst])
				}
				moved++
			} else {
				if field.Flow[dst] == dirNone {
					t.Fatalf("tick %d agent %d: stuck at %v, respawned at %v, a tile with no direction", n, a, from, to)
				}
				respawned++
			}
		}
	}
	if moved == 0 || respawned == 0 {
		t.Fatalf("the test did not exercise both cases: %d moves, %d respawns", moved, respawned)
	}
}

// TestErrorLineOnePrefix: the command's error line names the command
// once; main used to print "game-ai: game-ai: bad flag value: ...".
func TestErrorLineOnePrefix(t *testing.T) {
	gameAI.CheckErrorLines(t, errorLine,
		fmt.Errorf("%w: --ticks 0: want 1 or more", ErrBadFlag),
		errors.New("open /tmp/x: permission denied"),
	)
}

// TestGridFlagRefused: --grid out of range is refused with ErrBadFlag
// naming it, as the README says of every flag (it used to be a message of
// its own, outside ErrBadFlag).
func TestGridFlagRefused(t *testing.T) {
	for _, side := range []int{0, 20, 512} {
		if err := checkGrid(side); !errors.Is(err, ErrBadFlag) || !strings.Contains(err.Error(), "--grid") {
			t.Errorf("--grid %d: got %v, want ErrBadFlag naming --grid", side, err)
		}
	}
	if err := checkGrid(64); err != nil {
		t.Errorf("--grid 64: %v", err)
	}
}

// TestGridPictureEveryGridSide: --plot draws grid.png for every --grid the
// flag accepts. On a 16×16 grid the 32-tile zoom window started at tile
// -16 and writeGridPicture panicked (index out of range [-272]).
func TestGridPictureEveryGridSide(t *testing.T) {
	for _, side := range []int{pageSide, 2 * pageSide, 3 * pageSide} {
		t.Run(fmt.Sprintf("grid %d", side), func(t *testing.T) {
			useGrid(t, side)
			cfg := config{Seed: 1, Map: mapRooms, Goals: 2, Agents: 8, Ticks: 2, EditsPerTick: 1, GoalEvery: 2,
				CheckpointEvery: 2, SweepPages: []int{1}, Repeats: 1}
			rep, err := run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "grid.png")
			if err := writeGridPicture(path, rep.finalGame); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			zoom := min(zoomTiles, side)
			want := image.Pt(side*wholeScale+8+zoom*zoomScale, max(side*wholeScale, zoom*zoomScale))
			if got := img.Bounds().Size(); got != want {
				t.Fatalf("grid.png is %v, want %v", got, want)
			}
		})
	}
}
