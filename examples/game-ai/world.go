package main

import (
	"encoding/binary"
	"math/rand/v2"
)

// A page: pageSide × pageSide tiles, one byte per tile.
const (
	pageSide     = 16
	tilesPerPage = pageSide * pageSide
	borderCells  = 4*pageSide - 4 // cells on a page's outer ring
)

// The world: a gridSide × gridSide tile grid cut into pagesPerSide ×
// pagesPerSide pages. 256 by default; setGridSide changes it (tests use
// smaller grids) before any game is built.
var (
	gridSide       int
	pagesPerSide   int
	numPages       int
	globalPageSize int
	bandPageSize   int
)

// defaultGridSide is the grid's side unless --grid says otherwise.
const defaultGridSide = 256

// setGridSide sizes the world (a multiple of pageSide, at most 256 so that a
// distance, shorter than the number of tiles, fits in 16 bits) and the
// tables that depend on it.
func setGridSide(n int) {
	gridSide, pagesPerSide = n, n/pageSide
	numPages = pagesPerSide * pagesPerSide
	globalPageSize = numPages * borderCells * 2
	bandPageSize = pagesPerSide * slicePageSize
	initCrossNeighbours()
}

// Tile values.
const (
	tileFloor = 0
	tileWall  = 1
	tileGoal  = 2
)

// Distances: unreachable is the largest value of the encoding. A shortest
// path visits distinct tiles, so a page-local distance is below
// tilesPerPage-1 = 255 and a global one below gridSide² - 1.
const (
	unreachable8  = 0xFF
	unreachable16 = 0xFFFF
)

// Flow directions: the neighbour an agent steps to. Ties between equally
// short neighbours go to the first in this order.
const (
	dirNone  = 0 // wall, goal or unreachable
	dirNorth = 1 // y - 1
	dirEast  = 2 // x + 1
	dirSouth = 3 // y + 1
	dirWest  = 4 // x - 1
)

var dirDX = [5]int{0, 0, 1, 0, -1}
var dirDY = [5]int{0, -1, 0, 1, 0}

// border lists the page-local indices (y*pageSide + x) of the ring cells in
// row-major order; borderIndex is its inverse (-1 inside).
var border [borderCells]int
var borderIndex [tilesPerPage]int

func init() {
	k := 0
	for c := range tilesPerPage {
		x, y := c%pageSide, c/pageSide
		if x == 0 || y == 0 || x == pageSide-1 || y == pageSide-1 {
			border[k] = c
			borderIndex[c] = k
			k++
		} else {
			borderIndex[c] = -1
		}
	}
	setGridSide(defaultGridSide)
}

// World is the model of the grid the driver edits; the bus's tile pages must
// always equal it.
type World struct {
	Tiles []byte // row-major, gridSide × gridSide
}

func tileAt(x, y int) int { return y*gridSide + x }

// pageOf returns the page holding tile (x, y) and the tile's local index.
func pageOf(x, y int) (page, local int) {
	return (y/pageSide)*pagesPerSide + x/pageSide, (y%pageSide)*pageSide + x%pageSide
}

// pageOrigin returns the global coordinates of a page's local tile 0.
func pageOrigin(p int) (x0, y0 int) {
	return (p % pagesPerSide) * pageSide, (p / pagesPerSide) * pageSide
}

// appendPage appends page p's tiles (local row-major) to dst.
func (w *World) appendPage(dst []byte, p int) []byte {
	x0, y0 := pageOrigin(p)
	for y := range pageSide {
		dst = append(dst, w.Tiles[tileAt(x0, y0+y):tileAt(x0+pageSide, y0+y)]...)
	}
	return dst
}

// Map kinds.
const (
	mapRooms = "rooms" // every page a room walled on its ring, joined by doors
	mapOpen  = "open"  // scattered obstacles, no room walls
)

// NewWorld draws a world from seed: kind's walls and goals goal tiles.
func NewWorld(seed uint64, kind string, goals int) *World {
	rng := rand.New(rand.NewPCG(seed, 0x67616d65)) //nolint:gosec // a reproducible map, not a secret
	w := &World{Tiles: make([]byte, gridSide*gridSide)}
	obstacle := 20
	if kind == mapRooms {
		obstacle = 10
		for p := range numPages {
			x0, y0 := pageOrigin(p)
			for _, c := range border {
				w.Tiles[tileAt(x0+c%pageSide, y0+c/pageSide)] = tileWall
			}
		}
		// A door of two tiles through most walls between neighbouring rooms.
		for p := range numPages {
			x0, y0 := pageOrigin(p)
			if x0+pageSide < gridSide && rng.IntN(8) != 0 {
				d := 2 + rng.IntN(pageSide-5)
				for _, y := range []int{y0 + d, y0 + d + 1} {
					w.Tiles[tileAt(x0+pageSide-1, y)], w.Tiles[tileAt(x0+pageSide, y)] = tileFloor, tileFloor
				}
			}
			if y0+pageSide < gridSide && rng.IntN(8) != 0 {
				d := 2 + rng.IntN(pageSide-5)
				for _, x := range []int{x0 + d, x0 + d + 1} {
					w.Tiles[tileAt(x, y0+pageSide-1)], w.Tiles[tileAt(x, y0+pageSide)] = tileFloor, tileFloor
				}
			}
		}
	}
	for y := range gridSide {
		for x := range gridSide {
			if _, l := pageOf(x, y); borderIndex[l] < 0 && rng.IntN(100) < obstacle {
				w.Tiles[tileAt(x, y)] = tileWall
			}
		}
	}
	for range goals {
		w.Tiles[w.randomFloor(rng)] = tileGoal
	}
	return w
}

// randomFloor returns a random floor tile that is not on a page ring (so
// that goals never block doors).
func (w *World) randomFloor(rng *rand.Rand) int {
	for {
		x, y := rng.IntN(gridSide), rng.IntN(gridSide)
		if _, l := pageOf(x, y); borderIndex[l] < 0 && w.Tiles[tileAt(x, y)] == tileFloor {
			return tileAt(x, y)
		}
	}
}

// Field is the from-scratch baseline: distances to the nearest goal by a
// breadth-first search over the whole grid (every step costs 1, so BFS is
// Dijkstra), and the flow directions derived from them, in the layout of
// the bus's field and flow pages.
type Field struct {
	Dist  []uint16 // row-major, unreachable16 where no goal can be reached
	Flow  []byte   // row-major directions
	queue []int32
}

// Compute fills f from w from scratch.
func (f *Field) Compute(w *World) {
	n := gridSide * gridSide
	if len(f.Dist) != n {
		f.Dist, f.Flow, f.queue = make([]uint16, n), make([]byte, n), make([]int32, 0, n)
	}
	q := f.queue[:0]
	for i, t := range w.Tiles {
		f.Dist[i] = unreachable16
		if t == tileGoal {
			f.Dist[i] = 0
			q = append(q, int32(i))
		}
	}
	for k := 0; k < len(q); k++ {
		i := int(q[k])
		x, y, d := i%gridSide, i/gridSide, f.Dist[i]+1
		for dir := dirNorth; dir <= dirWest; dir++ {
			nx, ny := x+dirDX[dir], y+dirDY[dir]
			if nx < 0 || ny < 0 || nx >= gridSide || ny >= gridSide {
				continue
			}
			j := tileAt(nx, ny)
			if w.Tiles[j] != tileWall && f.Dist[j] > d {
				f.Dist[j] = d
				q = append(q, int32(j))
			}
		}
	}
	f.queue = q
	for i := range f.Flow {
		f.Flow[i] = flowAt(f.Dist, i%gridSide, i/gridSide)
	}
}

// flowAt is the direction out of (x, y) on a distance grid: the first
// neighbour, in direction order, one step closer to a goal.
func flowAt(dist []uint16, x, y int) byte {
	d := dist[tileAt(x, y)]
	if d == 0 || d == unreachable16 {
		return dirNone
	}
	for dir := dirNorth; dir <= dirWest; dir++ {
		nx, ny := x+dirDX[dir], y+dirDY[dir]
		if nx >= 0 && ny >= 0 && nx < gridSide && ny < gridSide && dist[tileAt(nx, ny)] == d-1 {
			return byte(dir)
		}
	}
	return dirNone // unreachable for a consistent field
}

// appendFieldPage appends page p of the distance grid in the field page
// layout (local row-major, u16 little-endian).
func (f *Field) appendFieldPage(dst []byte, p int) []byte {
	x0, y0 := pageOrigin(p)
	for y := range pageSide {
		for x := range pageSide {
			dst = binary.LittleEndian.AppendUint16(dst, f.Dist[tileAt(x0+x, y0+y)])
		}
	}
	return dst
}

// appendFlowPage appends page p of the flow grid (local row-major).
func (f *Field) appendFlowPage(dst []byte, p int) []byte {
	x0, y0 := pageOrigin(p)
	for y := range pageSide {
		dst = append(dst, f.Flow[tileAt(x0, y0+y):tileAt(x0+pageSide, y0+y)]...)
	}
	return dst
}
