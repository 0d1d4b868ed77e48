package graph

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"pgregory.net/rapid"
)

// useShrinkMin sets shrinkMinCap for one rapid run (the package's tests
// run one at a time).
func useShrinkMin(t *rapid.T, v int) {
	old := shrinkMinCap
	shrinkMinCap = v
	t.Cleanup(func() { shrinkMinCap = old })
}

// checkArena verifies the storage behind the blocks: every live node's
// block holds its edge ends, the class blocks in use and those on the free
// lists lie inside the chunks handed out and never overlap, the big blocks
// are exactly the big-class nodes', and arena.live counts the capacity of
// the blocks in use. A block moved (grown or shrunk) with a stale free
// list entry, position or count breaks one of these.
func (g *Graph) checkArena() error {
	type span struct {
		from, to uint64
		what     string
	}
	var spans []span
	addClass := func(c uint8, off uint32, what string) error {
		if int(c) >= len(classCap) {
			return fmt.Errorf("%s: class %d", what, c)
		}
		chunk, o := off>>chunkShift, off&chunkMask
		end := o + classCap[c]
		if int(chunk) >= len(g.arena.chunks) || end > chunkSize ||
			(int(chunk) == len(g.arena.chunks)-1 && end > g.arena.used) {
			return fmt.Errorf("%s: block at chunk %d, %d..%d outside the %d chunks handed out (%d used in the last)", what, chunk, o, end, len(g.arena.chunks), g.arena.used)
		}
		at := uint64(chunk)<<chunkShift | uint64(o)
		spans = append(spans, span{at, at + uint64(classCap[c]), what})
		return nil
	}
	var live int64
	bigs := 0
	for n, id := range g.ids {
		if id == 0 {
			continue
		}
		used := g.nOut[n] + g.nIn[n]
		if used == 0 {
			return fmt.Errorf("page %d: node with no edge end", id)
		}
		if g.cls[n] == bigClass {
			b, ok := g.arena.big[uint32(n)]
			if !ok || uint32(len(b)) < used {
				return fmt.Errorf("page %d: big block of %d entries (present %v) for %d edge ends", id, len(b), ok, used)
			}
			live += int64(cap(b))
			bigs++
			continue
		}
		if classCap[g.cls[n]] < used {
			return fmt.Errorf("page %d: class %d block holds %d entries, %d edge ends", id, g.cls[n], classCap[g.cls[n]], used)
		}
		live += int64(classCap[g.cls[n]])
		if err := addClass(g.cls[n], g.off[n], fmt.Sprintf("page %d", id)); err != nil {
			return err
		}
	}
	if bigs != len(g.arena.big) {
		return fmt.Errorf("%d big blocks for %d big-class pages", len(g.arena.big), bigs)
	}
	if live != g.arena.live {
		return fmt.Errorf("arena counts %d entries live, the pages' blocks hold %d", g.arena.live, live)
	}
	for c, fl := range g.arena.free {
		for _, off := range fl {
			if err := addClass(uint8(c), off, fmt.Sprintf("free block of class %d", c)); err != nil {
				return err
			}
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmpU64(a.from, b.from) })
	for i := 1; i < len(spans); i++ {
		if spans[i].from < spans[i-1].to {
			return fmt.Errorf("%s and %s overlap (%d..%d, %d..%d)", spans[i-1].what, spans[i].what, spans[i-1].from, spans[i-1].to, spans[i].from, spans[i].to)
		}
	}
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// kahnByID is the model's topological order: among ready pages, the
// smallest ID first, as TopoOrder promises.
func (m model) kahnByID() []base.PageID {
	indeg := map[base.PageID]int{}
	for e := range m {
		indeg[e.Parent] += 0
		indeg[e.Child]++
	}
	var out []base.PageID
	for len(indeg) > 0 {
		next := base.PageID(0)
		for id, d := range indeg {
			if d == 0 && (next == 0 || id < next) {
				next = id
			}
		}
		if next == 0 {
			return nil // a cycle: not for this test
		}
		delete(indeg, next)
		out = append(out, next)
		for e := range m {
			if e.Parent == next {
				indeg[e.Child]--
			}
		}
	}
	return out
}

// TestPropertyBlockMoves: random adds (cycles refused, repairs of the
// order), edge and page removals, and bursts that make one of two hub
// pages gain or lose many edge ends at once, with hub indexes built and
// dropped at small thresholds and blocks moved to smaller ones from any
// size (shrinkMinCap 0) as well as at the real bound. After every step
// every page's parents and children equal the model's, the hub indexes
// and the arena (block positions, free lists, live count) are consistent,
// and the maintained order is valid; at the end TopoOrder is the model's
// order. shrinkBlock moves a block, keeping positions, whenever removals
// leave it under a quarter full; this checks that nothing pointing into a
// block (hub slots, free lists, the node's class and offset) is left stale
// by a move.
func TestPropertyBlockMoves(t *testing.T) {
	const pages = 40
	rapid.Check(t, func(t *rapid.T) {
		g := New()
		useHubMin(t, rapid.SampledFrom([]uint32{4, 8, 16}).Draw(t, "hubMin"))
		useShrinkMin(t, rapid.SampledFrom([]int{0, 2, 8}).Draw(t, "shrinkMin"))
		m := model{}
		page := rapid.Uint64Range(1, pages)
		hub := rapid.Uint64Range(1, 2)
		typ := rapid.Uint8Range(0, base.NumEdgeTypes-1)
		add := func(p, c base.PageID, ty base.EdgeType) {
			e := Edge{p, c, ty}
			wantCycle := p == c || (!m[e] && m.reaches(c, p, nil))
			added, err := g.AddEdge(p, c, ty)
			switch {
			case m[e]:
				if added || err != nil {
					t.Fatalf("dup %v: %v %v", e, added, err)
				}
			case wantCycle:
				var ce *CycleError
				if !errors.As(err, &ce) || added {
					t.Fatalf("add %v: want a cycle, got %v %v", e, added, err)
				}
				checkPath(t, m, ce)
			default:
				if !added || err != nil {
					t.Fatalf("add %v: %v %v", e, added, err)
				}
				m[e] = true
			}
		}
		remove := func(p, c base.PageID, ty base.EdgeType) {
			e := Edge{p, c, ty}
			if got := g.RemoveEdge(p, c, ty); got != m[e] {
				t.Fatalf("RemoveEdge %v = %v, want %v", e, got, m[e])
			}
			delete(m, e)
		}
		steps := rapid.IntRange(1, 80).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			p, c := base.PageID(page.Draw(t, "p")), base.PageID(page.Draw(t, "c"))
			ty := base.EdgeType(typ.Draw(t, "t"))
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); op {
			case 0, 1, 2: // add
				add(p, c, ty)
			case 3: // add to or from a hub
				h := base.PageID(hub.Draw(t, "hub"))
				if rapid.Bool().Draw(t, "hubIsParent") {
					add(h, c, ty)
				} else {
					add(p, h, ty)
				}
			case 4: // a burst into a hub: parents from k on
				h := base.PageID(hub.Draw(t, "hub"))
				for q := base.PageID(rapid.IntRange(3, pages).Draw(t, "from")); q <= pages; q++ {
					add(q, h, ty)
				}
			case 5: // a burst out of a hub's edges of one type
				h := base.PageID(hub.Draw(t, "hub"))
				for _, e := range m.sorted() {
					if (e.Parent == h || e.Child == h) && e.Type == ty {
						remove(e.Parent, e.Child, e.Type)
					}
				}
			case 6, 7:
				remove(p, c, ty)
			case 8:
				var want []Edge
				for _, e := range m.sorted() {
					if e.Parent == p || e.Child == p {
						want = append(want, e)
						delete(m, e)
					}
				}
				if got := g.RemovePage(p); !slices.Equal(got, want) {
					t.Fatalf("RemovePage(%d) = %v, want %v", p, got, want)
				}
			case 9:
				n := 0
				for ty := base.EdgeType(0); ty < base.NumEdgeTypes; ty++ {
					if m[Edge{p, c, ty}] {
						n++
						delete(m, Edge{p, c, ty})
					}
				}
				if got := g.RemoveEdges(p, c); got != n {
					t.Fatalf("RemoveEdges(%d, %d) = %d, want %d", p, c, got, n)
				}
			}
			checkNeighbours(t, g, m, pages)
			if err := g.verifyOrder(); err != nil {
				t.Fatal(err)
			}
			if err := g.checkHubIndex(); err != nil {
				t.Fatal(err)
			}
			if err := g.checkArena(); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := g.TopoOrder(), m.kahnByID(); !slices.Equal(got, want) {
			t.Fatalf("TopoOrder %v, want %v", got, want)
		}
	})
}

// checkNeighbours compares every page's parents and children (sorted), its
// membership and the counts with the model.
func checkNeighbours(t *rapid.T, g *Graph, m model, pages base.PageID) {
	nodes := map[base.PageID]bool{}
	for e := range m {
		nodes[e.Parent], nodes[e.Child] = true, true
	}
	all := m.sorted()
	for id := base.PageID(1); id <= pages; id++ {
		var wantP, wantC []Edge
		for _, e := range all {
			if e.Child == id {
				wantP = append(wantP, e)
			}
			if e.Parent == id {
				wantC = append(wantC, e)
			}
		}
		slices.SortFunc(wantP, compareEdges)
		if got := g.AppendParents(nil, id); !slices.Equal(got, wantP) {
			t.Fatalf("parents of %d: %v, want %v", id, got, wantP)
		}
		if got := g.AppendChildren(nil, id); !slices.Equal(got, wantC) {
			t.Fatalf("children of %d: %v, want %v", id, got, wantC)
		}
		if g.HasEdges(id) != nodes[id] {
			t.Fatalf("HasEdges(%d) = %v, want %v", id, g.HasEdges(id), nodes[id])
		}
		for _, e := range wantP {
			if !g.HasEdge(e.Parent, e.Child, e.Type) {
				t.Fatalf("HasEdge%v false", e)
			}
		}
	}
	if g.NumEdges() != len(m) || g.NumNodes() != len(nodes) {
		t.Fatalf("%d edges, %d pages; want %d, %d", g.NumEdges(), g.NumNodes(), len(m), len(nodes))
	}
}

// blockAt names n's block: its class and offset, or its own slice's first
// entry for a big block. A change is a move.
type blockAt struct {
	cls uint8
	off uint32
	big *uint32
}

func (g *Graph) blockOf(n uint32) blockAt {
	if g.cls[n] == bigClass {
		return blockAt{cls: bigClass, big: &g.arena.big[n][0]}
	}
	return blockAt{cls: g.cls[n], off: g.off[n]}
}

// tableOf names n's hub index by its slots' first entry (nil: none).
func (g *Graph) tableOf(n uint32) *uint32 {
	if h := g.hub(n); h != nil {
		return &h.slots[0]
	}
	return nil
}

// TestShrinkAmortized: a hub page (parents in its own big block, then in
// class blocks, with a hub index) loses its parents one at a time down to
// a few, then gains them back. At every count on the way, one parent
// removed and added again (and added and removed again) moves neither the
// block nor the index: a shrink leaves room to grow twice over, a growth
// room to shrink to a quarter. On the way down the block moves and the
// index is rebuilt only when the count has halved since the last time, so
// the entries copied add up to less than twice the edges removed, and
// the block, the index and the graph's memory end sized for what is kept.
func TestShrinkAmortized(t *testing.T) {
	const had = 20000 // a big block: more than a chunk's largest class holds
	const hubID = base.PageID(1)
	parent := func(i int) base.PageID { return base.PageID(i + 2) }
	g := New()
	for i := range had {
		mustAdd(t, g, parent(i), hubID, base.EdgeData)
	}
	n, _ := g.lookup(hubID)
	moves, rebuilds, copied := 0, 0, 0
	step := func(i int, remove bool) {
		b, tb := g.blockOf(n), g.tableOf(n)
		if remove {
			if !g.RemoveEdge(parent(i), hubID, base.EdgeData) {
				t.Fatalf("edge %d -> %d missing", parent(i), hubID)
			}
		} else {
			mustAdd(t, g, parent(i), hubID, base.EdgeData)
		}
		if g.blockOf(n) != b {
			moves++
			copied += int(g.nIn[n])
		}
		if g.tableOf(n) != tb {
			rebuilds++
		}
	}
	// pair, at k parents (0 to k-1), removes the last and adds it back,
	// or adds the next and removes it. The first step may move the block
	// or rebuild the index (the crossing the walk would make next); the
	// second, back to k, must do neither: that would be a move at every
	// step for a count alternating at the bound.
	pair := func(k int, removeFirst bool) {
		i := k
		if removeFirst {
			i = k - 1
		}
		step(i, removeFirst)
		m0, r0 := moves, rebuilds
		step(i, !removeFirst)
		if moves != m0 || rebuilds != r0 {
			t.Fatalf("at %d parents (block of %d entries), one parent removed and added back (remove first %v): the way back to %d moved the block %d times, rebuilt the index %d times; want neither",
				k, len(g.adj(n)), removeFirst, k, moves-m0, rebuilds-r0)
		}
	}
	const kept = 40
	for k := had; k > kept; k-- {
		step(k-1, true)
		if k-1 > kept {
			pair(k-1, false)
			pair(k-1, true)
		}
	}
	// Each move copies the entries left, at most half of those at the
	// move before: less than twice what was removed in all.
	if copied > 2*(had-kept) || moves > 2*16 || rebuilds > 2*16 {
		t.Fatalf("removing %d of %d parents moved the block %d times (%d entries copied), rebuilt the index %d times", had-kept, had, moves, copied, rebuilds)
	}
	if err := g.checkArena(); err != nil {
		t.Fatal(err)
	}
	if err := g.checkHubIndex(); err != nil {
		t.Fatal(err)
	}
	if c := len(g.adj(n)); c > max(4*kept, shrinkMinCap) {
		t.Fatalf("%d parents kept in a block of %d entries", kept, c)
	}
	// The big block is given back, and the index with it (under hubMin/4
	// edge ends); the blocks in use hold a few entries per edge end (the
	// 40 parents' blocks of one entry each, and the hub's).
	if len(g.arena.big) != 0 || g.hub(n) != nil || g.arena.live > 8*kept {
		t.Fatalf("%d of %d parents kept: %d big blocks, hub index %v, %d entries in blocks in use", kept, had, len(g.arena.big), g.hub(n) != nil, g.arena.live)
	}
	for k := kept + 1; k <= had; k++ { // and back up
		step(k-1, false)
		if k < had {
			pair(k, true)
			pair(k, false)
		}
	}
	if err := g.checkArena(); err != nil {
		t.Fatal(err)
	}
	if err := g.checkHubIndex(); err != nil {
		t.Fatal(err)
	}
	if got := len(g.AppendParents(nil, hubID)); got != had {
		t.Fatalf("%d parents after adding them back, want %d", got, had)
	}
}

// TestShrunkBlocksRecycled: the class block a shrink leaves goes on its
// class's free list, and the next block of that class is it: the arena
// keeps it for reuse (its chunks are never given back), it is not lost.
func TestShrunkBlocksRecycled(t *testing.T) {
	const had = 5000 // a class block of 6144 entries
	g := New()
	for i := range had {
		mustAdd(t, g, base.PageID(i+10), 1, base.EdgeData)
	}
	n, _ := g.lookup(1)
	for i := had - 1; ; i-- {
		before := g.blockOf(n)
		g.RemoveEdge(base.PageID(i+10), 1, base.EdgeData)
		if g.blockOf(n) == before {
			continue
		}
		fl := g.arena.free[before.cls]
		if len(fl) == 0 || fl[len(fl)-1] != before.off {
			t.Fatalf("the block of class %d at %d that a shrink left is not on the class's free list (%v)", before.cls, before.off, fl)
		}
		if off := g.arena.alloc(before.cls); off != before.off {
			t.Fatalf("the next block of class %d is at %d, not the one the shrink left at %d", before.cls, off, before.off)
		}
		g.arena.release(before.cls, before.off)
		break
	}
	if err := g.checkArena(); err != nil {
		t.Fatal(err)
	}
}
