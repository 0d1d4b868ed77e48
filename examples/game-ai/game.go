package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

// Agents live in pages of agentsPerPage agents, 4 bytes each (x, y as u16).
const (
	agentsPerPage = 256
	agentSize     = 4
)

// faults are deliberate wiring mistakes for the negative controls.
type faults struct {
	wrongEdge      int // >= 0: that page's field reads the ring distances of the next page
	missingBinding int // >= 0: that page's flow page is never bound
}

var noFaults = faults{wrongEdge: -1, missingBinding: -1}

// game is the world on a bus: the pages, the tick orchestrator, the model the
// driver edits, and the agents.
type game struct {
	bus   *mmsb.Bus
	orch  *tick.Orchestrator
	timer *computeTimer
	seed  uint64
	world *World // the model; the tile pages always equal it
	rng   *rand.Rand

	tiles, portal, band, slice, field, flow []mmsb.PageID
	global                                  mmsb.PageID
	agents                                  []mmsb.PageID
	numAgents                               int

	flowGrid []byte // scratch: the flow pages assembled row-major
	buf      []byte
}

// newGame creates the pages on a bus, binds the field's layers, commits the
// world and the agents' start positions, propagates once and starts an
// orchestrator. The bus is in memory when dir is "", else on disk in dir with
// its pages in shared memory (Options.Shared) for readers in other
// processes, and commits not waiting for fsync.
func newGame(ctx context.Context, dir string, seed uint64, kind string, goals, agents int, f faults) (*game, error) {
	g := &game{timer: &computeTimer{}, seed: seed, world: NewWorld(seed, kind, goals),
		rng: rand.New(rand.NewPCG(seed, 0x65646974)), numAgents: agents} //nolint:gosec // reproducible edits
	opts := &mmsb.Options{Functions: g.timer.functions(), CheckpointBytes: -1}
	if dir != "" {
		opts.Shared, opts.Sync = true, mmsb.SyncNone
	}
	var err error
	g.bus, err = mmsb.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	if err := g.build(ctx, f); err != nil {
		_ = g.bus.Close() // the error that stopped the build matters more
		return nil, err
	}
	// The first propagation above computed every derived page: the
	// orchestrator's startup resync would only redo it.
	// FailWhenFull: the driver submits from the goroutine that ticks, so a
	// Submit waiting for room would wait forever; mmsb.ErrBusy says why.
	g.orch, err = tick.New(g.bus, &tick.Options{SkipStartupResync: true, Budget: budget, FailWhenFull: true})
	if err != nil {
		_ = g.bus.Close() // the error that stopped the build matters more
		return nil, err
	}
	return g, nil
}

func (g *game) Close() error {
	return errors.Join(g.orch.Close(), g.bus.Close())
}

func (g *game) build(ctx context.Context, f faults) error {
	agentPages := (g.numAgents + agentsPerPage - 1) / agentsPerPage
	var specs []mmsb.PageSpec
	add := func(n, size int) {
		for range n {
			specs = append(specs, mmsb.PageSpec{Size: size})
		}
	}
	add(numPages, tilesPerPage)
	add(numPages, portalPageSize)
	add(1, globalPageSize)
	add(pagesPerSide, bandPageSize)
	add(numPages, slicePageSize)
	add(numPages, fieldPageSize)
	add(numPages, flowPageSize)
	add(agentPages, agentsPerPage*agentSize)
	ids, err := g.bus.CreatePages(ctx, specs)
	if err != nil {
		return err
	}
	take := func(n int) []mmsb.PageID { s := ids[:n]; ids = ids[n:]; return s }
	g.tiles, g.portal = take(numPages), take(numPages)
	g.global = take(1)[0]
	g.band, g.slice, g.field, g.flow = take(pagesPerSide), take(numPages), take(numPages), take(numPages)
	g.agents = take(agentPages)

	bind := func(child mmsb.PageID, fn string, params []byte, parents ...mmsb.PageID) error {
		if err := g.bus.Bind(ctx, child, fn, params, parents); err != nil {
			return fmt.Errorf("bind %s to page %d: %w", fn, child, err)
		}
		return nil
	}
	for p := range numPages {
		if err := bind(g.portal[p], fnPortal, nil, g.tiles[p]); err != nil {
			return err
		}
	}
	if err := bind(g.global, fnGlobal, nil, g.portal...); err != nil {
		return err
	}
	for r := range pagesPerSide {
		if err := bind(g.band[r], fnSlice, sliceParams(r*bandPageSize), g.global); err != nil {
			return err
		}
	}
	for p := range numPages {
		if err := bind(g.slice[p], fnSlice, sliceParams((p%pagesPerSide)*slicePageSize), g.band[p/pagesPerSide]); err != nil {
			return err
		}
		ring := g.slice[p]
		if p == f.wrongEdge {
			ring = g.slice[(p+1)%numPages]
		}
		if err := bind(g.field[p], fnField, nil, g.tiles[p], ring); err != nil {
			return err
		}
	}
	for p := range numPages {
		if p == f.missingBinding {
			continue
		}
		parents := []mmsb.PageID{g.field[p]}
		for dir, present := range flowParams(p) {
			if present != 0 {
				parents = append(parents, g.field[p+[4]int{-pagesPerSide, 1, pagesPerSide, -1}[dir]])
			}
		}
		if err := bind(g.flow[p], fnFlow, flowParams(p), parents...); err != nil {
			return err
		}
	}

	var ds []mmsb.Delta
	for p := range numPages {
		ds = append(ds, mmsb.Write(g.tiles[p], 0, g.world.appendPage(nil, p)))
	}
	// Agents start on random floor tiles.
	for a, id := range g.agents {
		page := make([]byte, agentsPerPage*agentSize)
		for i := range agentsPerPage {
			if a*agentsPerPage+i < g.numAgents {
				t := g.world.randomFloor(g.rng)
				binary.LittleEndian.PutUint16(page[i*agentSize:], uint16(t%gridSide))
				binary.LittleEndian.PutUint16(page[i*agentSize+2:], uint16(t/gridSide))
			}
		}
		ds = append(ds, mmsb.Write(id, 0, page))
	}
	if _, err := g.bus.Commit(ctx, ds); err != nil {
		return err
	}
	_, err = g.bus.Propagate(ctx)
	return err
}

// toggleTile flips one floor tile to wall or back (goals are left alone)
// in the model and submits the delta.
func (g *game) toggleTile(ctx context.Context, t int) error {
	switch g.world.Tiles[t] {
	case tileFloor:
		g.world.Tiles[t] = tileWall
	case tileWall:
		g.world.Tiles[t] = tileFloor
	default:
		return nil
	}
	return g.setTile(ctx, t, g.world.Tiles[t])
}

func (g *game) setTile(ctx context.Context, t int, v byte) error {
	g.world.Tiles[t] = v
	p, l := pageOf(t%gridSide, t/gridSide)
	d := mmsb.Write(g.tiles[p], uint32(l), []byte{v})
	return g.orch.Submit(ctx, &d)
}

// scriptedEdits submits tick n's world edits: edits random tile toggles
// and, every goalEvery ticks, one goal moved elsewhere.
func (g *game) scriptedEdits(ctx context.Context, n uint64, edits, goalEvery int) error {
	for range edits {
		if err := g.toggleTile(ctx, g.rng.IntN(gridSide*gridSide)); err != nil {
			return err
		}
	}
	if goalEvery > 0 && n%uint64(goalEvery) == 0 {
		var goals []int
		for t, v := range g.world.Tiles {
			if v == tileGoal {
				goals = append(goals, t)
			}
		}
		if len(goals) > 0 {
			to := g.world.randomFloor(g.rng)
			if err := g.setTile(ctx, goals[g.rng.IntN(len(goals))], tileFloor); err != nil {
				return err
			}
			if err := g.setTile(ctx, to, tileGoal); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitmix64 scrambles x: the respawn positions are a pure function of the
// seed, the tick and the agent.
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

// stepAgents moves every agent one tile along the flow field as the bus holds
// it now, and submits the agent pages. An agent with nowhere to go (on a
// goal, a wall or cut off) respawns at a tile chosen by hashing (seed, tick,
// agent), probing forward to the first tile with a direction. The step reads
// only the bus, so re-running it from a replayed state gives the same moves.
func (g *game) stepAgents(ctx context.Context, n uint64) error {
	g.flowGrid = g.flowGrid[:0]
	if cap(g.flowGrid) < gridSide*gridSide {
		g.flowGrid = make([]byte, gridSide*gridSide)
	}
	g.flowGrid = g.flowGrid[:gridSide*gridSide]
	for p, id := range g.flow {
		page, _, err := g.bus.ReadPage(id, g.buf[:0])
		if err != nil {
			return err
		}
		g.buf = page
		x0, y0 := pageOrigin(p)
		for y := range pageSide {
			copy(g.flowGrid[tileAt(x0, y0+y):], page[y*pageSide:(y+1)*pageSide])
		}
	}
	for a, id := range g.agents {
		page, _, err := g.bus.ReadPage(id, nil)
		if err != nil {
			return err
		}
		next := bytes.Clone(page)
		for i := range agentsPerPage {
			idx := a*agentsPerPage + i
			if idx >= g.numAgents {
				break
			}
			x := int(binary.LittleEndian.Uint16(page[i*agentSize:]))
			y := int(binary.LittleEndian.Uint16(page[i*agentSize+2:]))
			if dir := g.flowGrid[tileAt(x, y)]; dir != dirNone {
				x, y = x+dirDX[dir], y+dirDY[dir]
			} else {
				t := int(splitmix64(g.seed^n<<20^uint64(idx)) % uint64(gridSide*gridSide))
				for k := 0; k < gridSide*gridSide && g.flowGrid[t] == dirNone; k++ {
					t = (t + 1) % (gridSide * gridSide)
				}
				x, y = t%gridSide, t/gridSide
			}
			binary.LittleEndian.PutUint16(next[i*agentSize:], uint16(x))
			binary.LittleEndian.PutUint16(next[i*agentSize+2:], uint16(y))
		}
		d, err := mmsb.Diff(id, page, next)
		if err != nil {
			return err
		}
		if len(d.Runs) > 0 {
			if err := g.orch.Submit(ctx, &d); err != nil {
				return err
			}
		}
	}
	return nil
}

// mismatch compares the bus's tile, field and flow pages with the model and a
// from-scratch field, and describes the first difference ("" if none).
func (g *game) mismatch(want *Field) (string, error) {
	var exp []byte
	for p := range numPages {
		for _, c := range []struct {
			name string
			id   mmsb.PageID
			want []byte
		}{
			{"tiles", g.tiles[p], g.world.appendPage(exp[:0], p)},
			{"field", g.field[p], want.appendFieldPage(nil, p)},
			{"flow", g.flow[p], want.appendFlowPage(nil, p)},
		} {
			got, _, err := g.bus.ReadPage(c.id, g.buf[:0])
			if err != nil {
				return "", err
			}
			g.buf = got
			if !bytes.Equal(got, c.want) {
				x0, y0 := pageOrigin(p)
				return fmt.Sprintf("%s page of grid page %d (tiles %d,%d) differs from the from-scratch BFS", c.name, p, x0, y0), nil
			}
		}
	}
	return "", nil
}

// pageIDs lists the pages a snapshot of the grid reads: tiles, fields, flows,
// agents.
func (g *game) pageIDs() []mmsb.PageID {
	ids := slices.Concat(g.tiles, g.field, g.flow, g.agents)
	return ids
}

// assembleSnapshot builds the picture's state from the pages of pageIDs,
// in that order: what the bus holds, not the driver's model or the baseline.
func (g *game) assembleSnapshot(pages [][]byte) (*snapshot, error) {
	want := 3*numPages + len(g.agents)
	if len(pages) != want {
		return nil, fmt.Errorf("snapshot of %d pages, want %d", len(pages), want)
	}
	n := gridSide * gridSide
	s := &snapshot{world: make([]byte, n), field: Field{Dist: make([]uint16, n), Flow: make([]byte, n)}}
	for p := range numPages {
		x0, y0 := pageOrigin(p)
		tiles, field, flow := pages[p], pages[numPages+p], pages[2*numPages+p]
		for c := range tilesPerPage {
			t := tileAt(x0+c%pageSide, y0+c/pageSide)
			s.world[t], s.field.Flow[t] = tiles[c], flow[c]
			s.field.Dist[t] = binary.LittleEndian.Uint16(field[2*c:])
		}
	}
	for a, page := range pages[3*numPages:] {
		for i := range agentsPerPage {
			if a*agentsPerPage+i < g.numAgents {
				s.agents = append(s.agents, [2]int{int(binary.LittleEndian.Uint16(page[i*agentSize:])),
					int(binary.LittleEndian.Uint16(page[i*agentSize+2:]))})
			}
		}
	}
	return s, nil
}

// busSnapshot reads the picture's pages with Bus.ReadPage.
func (g *game) busSnapshot() (*snapshot, error) {
	var pages [][]byte
	for _, id := range g.pageIDs() {
		b, _, err := g.bus.ReadPage(id, nil)
		if err != nil {
			return nil, err
		}
		pages = append(pages, b)
	}
	return g.assembleSnapshot(pages)
}

// readerSnapshot reads the picture's pages through the shared-memory reader,
// consistently at one LSN, as a viewer in another process would.
func (g *game) readerSnapshot() (*snapshot, mmsb.LSN, error) {
	rd, err := mmsb.OpenReader(g.bus.Dir(), nil)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = rd.Close() }() // a read-only mapping: nothing to lose
	snap, lsn, err := rd.Snapshot(g.pageIDs())
	if err != nil {
		return nil, 0, err
	}
	pages := make([][]byte, len(snap))
	for i := range snap {
		pages[i] = snap[i].Data
	}
	s, err := g.assembleSnapshot(pages)
	return s, lsn, err
}
