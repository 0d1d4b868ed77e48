package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The distance field is kept by five layers of derived pages (README "How the
// field is computed"). All distances are min-plus: a tile's distance is the
// minimum over ways in of (distance there + steps), and every layer is a
// min-plus closure of the one below.
//
//	tiles  T[p]   256 B      client writes (walls, goals)
//	portal L[p]   3660 B     from T[p]: local distances goal→ring cell and ring cell→ring cell
//	global G      30720 B    from every L: exact distance of every ring cell (Dijkstra on the ring graph)
//	band   R[r]   1920 B     from G: the ring distances of one row of pages
//	slice  S[p]   120 B      from R: the ring distances of page p
//	field  F[p]   512 B      from T[p], S[p]: every tile's distance (BFS seeded by goals and ring cells)
//	flow   D[p]   256 B      from F[p] and its neighbours' F: the step toward the nearest goal
//
// The bands and slices only cut G into smaller pages, so that a change of G
// recomputes only the fields whose ring distances actually changed (early
// cutoff at S), without copying all of G into each of 256 field recomputes.

const (
	portalPageSize = borderCells + borderCells*borderCells
	slicePageSize  = borderCells * 2
	fieldPageSize  = tilesPerPage * 2
	flowPageSize   = tilesPerPage
)

// Names of the recompute functions.
const (
	fnPortal = "game.portal"
	fnGlobal = "game.global"
	fnSlice  = "game.slice"
	fnField  = "game.field"
	fnFlow   = "game.flow"
)

// errBadInput: a recompute function given inputs of the wrong shape.
var errBadInput = errors.New("bad recompute input")

// computeTimer accumulates the time spent inside the recompute functions, to
// report the propagation's bookkeeping apart from the field's own work. It
// only reads the clock; no output depends on it.
type computeTimer struct{ total time.Duration }

type recomputeFunc = func(inputs [][]byte, params []byte, out []byte) error

func (t *computeTimer) functions() map[string]recomputeFunc {
	timed := func(fn recomputeFunc) recomputeFunc {
		return func(inputs [][]byte, params []byte, out []byte) error {
			start := time.Now()
			err := fn(inputs, params, out)
			t.total += time.Since(start)
			return err
		}
	}
	return map[string]recomputeFunc{
		fnPortal: timed(recomputePortal),
		fnGlobal: timed(recomputeGlobal),
		fnSlice:  timed(recomputeSlice),
		fnField:  timed(recomputeField),
		fnFlow:   timed(recomputeFlow),
	}
}

// localBFS fills dist with the page-local step distances from the seed
// cells over the page's non-wall tiles (unreachable8 elsewhere).
func localBFS(tiles []byte, seeds []int, dist *[tilesPerPage]uint8) error {
	var queue [tilesPerPage]uint8
	for i := range dist {
		dist[i] = unreachable8
	}
	n := 0
	for _, s := range seeds {
		if tiles[s] != tileWall && dist[s] != 0 {
			dist[s] = 0
			queue[n] = uint8(s)
			n++
		}
	}
	for k := 0; k < n; k++ {
		c := int(queue[k])
		x, y, d := c%pageSide, c/pageSide, dist[c]+1
		if d == unreachable8 {
			return fmt.Errorf("%w: a page-local distance reached %d", errBadInput, d)
		}
		for dir := dirNorth; dir <= dirWest; dir++ {
			nx, ny := x+dirDX[dir], y+dirDY[dir]
			if nx < 0 || ny < 0 || nx >= pageSide || ny >= pageSide {
				continue
			}
			j := ny*pageSide + nx
			if tiles[j] != tileWall && dist[j] == unreachable8 {
				dist[j] = d
				queue[n] = uint8(j)
				n++
			}
		}
	}
	return nil
}

// recomputePortal: out[b] is the local distance from the page's nearest goal
// to ring cell b; out[borderCells + b1*borderCells + b2] the local distance
// from ring cell b1 to ring cell b2 (0 on the diagonal exactly when the cell
// is not a wall). Local: paths that stay inside the page.
func recomputePortal(inputs [][]byte, _ []byte, out []byte) error {
	if len(inputs) != 1 || len(inputs[0]) != tilesPerPage || len(out) != portalPageSize {
		return fmt.Errorf("%w: portal wants one %d-byte tile page", errBadInput, tilesPerPage)
	}
	tiles := inputs[0]
	var dist [tilesPerPage]uint8
	var seeds []int
	var seedBuf [tilesPerPage]int
	seeds = seedBuf[:0]
	for c, t := range tiles {
		if t == tileGoal {
			seeds = append(seeds, c)
		}
	}
	if err := localBFS(tiles, seeds, &dist); err != nil {
		return err
	}
	for b, c := range border {
		out[b] = dist[c]
	}
	for b1, c := range border {
		row := out[borderCells+b1*borderCells:][:borderCells]
		if tiles[c] == tileWall {
			for i := range row {
				row[i] = unreachable8
			}
			continue
		}
		if err := localBFS(tiles, []int{c}, &dist); err != nil {
			return err
		}
		for b2, c2 := range border {
			row[b2] = dist[c2]
		}
	}
	return nil
}

// crossNeighbours[p*borderCells+b] lists the ring cells of other pages next
// to ring cell b of page p (as q*borderCells+b'), -1 for none.
var crossNeighbours [][2]int32

// initCrossNeighbours runs from setGridSide, after border is filled.
func initCrossNeighbours() {
	crossNeighbours = make([][2]int32, numPages*borderCells)
	for p := range numPages {
		x0, y0 := pageOrigin(p)
		for b, c := range border {
			k := 0
			nb := &crossNeighbours[p*borderCells+b]
			nb[0], nb[1] = -1, -1
			for dir := dirNorth; dir <= dirWest; dir++ {
				nx, ny := x0+c%pageSide+dirDX[dir], y0+c/pageSide+dirDY[dir]
				if nx < 0 || ny < 0 || nx >= gridSide || ny >= gridSide {
					continue
				}
				q, l := pageOf(nx, ny)
				if q != p {
					nb[k] = int32(q*borderCells + borderIndex[l])
					k++
				}
			}
		}
	}
}

// recomputeGlobal: out holds, for every page p and ring cell b, the exact
// distance from the nearest goal anywhere (u16 at (p*borderCells+b)*2).
// Dijkstra on the ring graph: nodes are ring cells; edges join ring cells of
// one page with their local distance (portal matrix) and neighbouring ring
// cells of adjacent pages with cost 1; sources are the ring cells' local goal
// distances. Every shortest path alternates page-local stretches between
// ring cells and single steps across page edges, so this is exact.
func recomputeGlobal(inputs [][]byte, _ []byte, out []byte) error {
	if len(inputs) != numPages || len(out) != globalPageSize {
		return fmt.Errorf("%w: global wants %d portal pages", errBadInput, numPages)
	}
	for _, in := range inputs {
		if len(in) != portalPageSize {
			return fmt.Errorf("%w: portal page of %d bytes", errBadInput, len(in))
		}
	}
	dist := make([]uint32, numPages*borderCells)
	h := make(minHeap, 0, 1024)
	for u := range dist {
		dist[u] = unreachable16
		if g := inputs[u/borderCells][u%borderCells]; g != unreachable8 {
			dist[u] = uint32(g)
			h.push(uint64(g)<<32 | uint64(u))
		}
	}
	for len(h) > 0 {
		top := h.pop()
		d, u := uint32(top>>32), int(uint32(top))
		if d > dist[u] {
			continue
		}
		p, b := u/borderCells, u%borderCells
		row := inputs[p][borderCells+b*borderCells:][:borderCells]
		base := p * borderCells
		for b2, w := range row {
			if w != unreachable8 && d+uint32(w) < dist[base+b2] {
				dist[base+b2] = d + uint32(w)
				h.push(uint64(d+uint32(w))<<32 | uint64(base+b2))
			}
		}
		for _, v := range crossNeighbours[u] {
			if v < 0 {
				continue
			}
			q, b2 := int(v)/borderCells, int(v)%borderCells
			if inputs[q][borderCells+b2*borderCells+b2] == 0 && d+1 < dist[v] { // v is not a wall
				dist[v] = d + 1
				h.push(uint64(d+1)<<32 | uint64(v))
			}
		}
	}
	for u, d := range dist {
		if d >= unreachable16 {
			d = unreachable16
		}
		binary.LittleEndian.PutUint16(out[2*u:], uint16(d))
	}
	return nil
}

// minHeap is a binary min-heap of (distance << 32 | node).
type minHeap []uint64

func (h *minHeap) push(v uint64) {
	*h = append(*h, v)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if s[parent] <= s[i] {
			break
		}
		s[parent], s[i] = s[i], s[parent]
		i = parent
	}
}

func (h *minHeap) pop() uint64 {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l] < s[m] {
			m = l
		}
		if r < len(s) && s[r] < s[m] {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// sliceParams encodes the byte offset a slice page copies from.
func sliceParams(off int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(off)) }

// recomputeSlice copies len(out) bytes of its one parent from the offset in
// params.
func recomputeSlice(inputs [][]byte, params []byte, out []byte) error {
	if len(inputs) != 1 || len(params) != 4 {
		return fmt.Errorf("%w: slice wants one parent and a 4-byte offset", errBadInput)
	}
	off := int(binary.LittleEndian.Uint32(params))
	if off+len(out) > len(inputs[0]) {
		return fmt.Errorf("%w: slice [%d, %d) of a %d-byte page", errBadInput, off, off+len(out), len(inputs[0]))
	}
	copy(out, inputs[0][off:])
	return nil
}

// recomputeField: every tile's exact distance (u16, local row-major). The
// last stretch of a shortest path to a tile either starts at a goal of the
// page or enters the page at a ring cell, whose exact distance the slice
// holds; a breadth-first search seeded with both (in increasing distance)
// gives the minimum.
func recomputeField(inputs [][]byte, _ []byte, out []byte) error {
	if len(inputs) != 2 || len(inputs[0]) != tilesPerPage || len(inputs[1]) != slicePageSize || len(out) != fieldPageSize {
		return fmt.Errorf("%w: field wants a tile page and a slice page", errBadInput)
	}
	tiles, ring := inputs[0], inputs[1]
	var dist [tilesPerPage]uint16
	var seedBuf [tilesPerPage + borderCells]uint32 // distance << 8 | cell
	seeds := seedBuf[:0]
	for c := range dist {
		dist[c] = unreachable16
	}
	add := func(c int, d uint16) {
		if tiles[c] != tileWall && d < dist[c] {
			dist[c] = d
			seeds = append(seeds, uint32(d)<<8|uint32(c))
		}
	}
	for c, t := range tiles {
		if t == tileGoal {
			add(c, 0)
		}
	}
	for b, c := range border {
		add(c, binary.LittleEndian.Uint16(ring[2*b:]))
	}
	slices.Sort(seeds)
	var queue [tilesPerPage]uint32
	qh, qt, si := 0, 0, 0
	for si < len(seeds) || qh < qt {
		var e uint32
		if qh == qt || si < len(seeds) && seeds[si] <= queue[qh] {
			e = seeds[si]
			si++
		} else {
			e = queue[qh]
			qh++
		}
		c, d := int(e&0xFF), uint16(e>>8)
		if d > dist[c] {
			continue
		}
		x, y := c%pageSide, c/pageSide
		for dir := dirNorth; dir <= dirWest; dir++ {
			nx, ny := x+dirDX[dir], y+dirDY[dir]
			if nx < 0 || ny < 0 || nx >= pageSide || ny >= pageSide {
				continue
			}
			j := ny*pageSide + nx
			if tiles[j] != tileWall && d+1 < dist[j] {
				dist[j] = d + 1
				if qt == len(queue) {
					return fmt.Errorf("%w: field queue overflow", errBadInput)
				}
				queue[qt] = uint32(d+1)<<8 | uint32(j)
				qt++
			}
		}
	}
	for c, d := range dist {
		binary.LittleEndian.PutUint16(out[2*c:], d)
	}
	return nil
}

// flowParams says which neighbour pages (north, east, south, west) follow
// the page's own field among the parents.
func flowParams(p int) []byte {
	x, y := p%pagesPerSide, p/pagesPerSide
	b := func(ok bool) byte {
		if ok {
			return 1
		}
		return 0
	}
	return []byte{b(y > 0), b(x < pagesPerSide-1), b(y < pagesPerSide-1), b(x > 0)}
}

// recomputeFlow: every tile's direction toward the nearest goal, the same
// rule as the baseline's flowAt, looking across the page edge into the
// neighbours' fields.
func recomputeFlow(inputs [][]byte, params []byte, out []byte) error {
	if len(params) != 4 || len(out) != flowPageSize || len(inputs) == 0 {
		return fmt.Errorf("%w: flow wants 4 neighbour flags", errBadInput)
	}
	var nbr [5][]byte // by direction
	k := 1
	for dir := dirNorth; dir <= dirWest; dir++ {
		if params[dir-1] != 0 {
			if k >= len(inputs) {
				return fmt.Errorf("%w: flow has %d parents, params want more", errBadInput, len(inputs))
			}
			nbr[dir] = inputs[k]
			k++
		}
	}
	for _, in := range inputs {
		if len(in) != fieldPageSize {
			return fmt.Errorf("%w: field page of %d bytes", errBadInput, len(in))
		}
	}
	own := inputs[0]
	at := func(page []byte, x, y int) uint16 { return binary.LittleEndian.Uint16(page[2*(y*pageSide+x):]) }
	for c := range out {
		x, y := c%pageSide, c/pageSide
		d := at(own, x, y)
		out[c] = dirNone
		if d == 0 || d == unreachable16 {
			continue
		}
		for dir := dirNorth; dir <= dirWest; dir++ {
			nx, ny := x+dirDX[dir], y+dirDY[dir]
			page := own
			switch {
			case ny < 0:
				page, ny = nbr[dirNorth], pageSide-1
			case nx >= pageSide:
				page, nx = nbr[dirEast], 0
			case ny >= pageSide:
				page, ny = nbr[dirSouth], 0
			case nx < 0:
				page, nx = nbr[dirWest], pageSide-1
			}
			if page != nil && at(page, nx, ny) == d-1 {
				out[c] = byte(dir)
				break
			}
		}
	}
	return nil
}
