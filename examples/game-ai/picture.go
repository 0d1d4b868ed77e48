package main

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
)

// Picture layout: the whole grid at 2 px per tile on the left, and on the
// right a 32×32-tile window around a goal at 16 px per tile with the flow
// arrows (the whole grid when it is smaller: --grid 16).
const (
	wholeScale = 2
	zoomTiles  = 32
	zoomScale  = 16
	heatLevels = 200
)

const (
	colArrow = iota
	colWall
	colGoal
	colAgent
	colUnreachable
	colFrame
	colHeat // first of heatLevels
)

func picturePalette() color.Palette {
	p := color.Palette{
		color.RGBA{20, 20, 20, 255},    // arrow
		color.RGBA{60, 60, 70, 255},    // wall
		color.RGBA{0, 200, 60, 255},    // goal
		color.RGBA{230, 20, 20, 255},   // agent
		color.RGBA{200, 200, 200, 255}, // unreachable
		color.RGBA{255, 255, 255, 255}, // frame
	}
	// Near goals pale yellow, far deep blue.
	for i := range heatLevels {
		t := float64(i) / (heatLevels - 1)
		p = append(p, color.RGBA{uint8(255 - 215*t), uint8(240 - 170*t), uint8(170 + 50*t), 255})
	}
	return p
}

// writeGridPicture draws the grid (walls, goals, distance heat map, agents)
// and a zoomed window with the flow arrows.
func writeGridPicture(path string, s *snapshot) error {
	if s == nil {
		return nil
	}
	// The zoom window cannot be larger than the grid: on a 16×16 grid a
	// 32-tile window started at tile -16 (index out of range).
	zoom := min(zoomTiles, gridSide)
	w := gridSide*wholeScale + 8 + zoom*zoomScale
	h := max(gridSide*wholeScale, zoom*zoomScale)
	img := image.NewPaletted(image.Rect(0, 0, w, h), picturePalette())
	for i := range img.Pix {
		img.Pix[i] = colFrame
	}
	maxDist := 1
	for _, d := range s.field.Dist {
		if d != unreachable16 {
			maxDist = max(maxDist, int(d))
		}
	}
	tileColour := func(t int) uint8 {
		switch {
		case s.world[t] == tileWall:
			return colWall
		case s.world[t] == tileGoal:
			return colGoal
		case s.field.Dist[t] == unreachable16:
			return colUnreachable
		}
		return uint8(colHeat + int(s.field.Dist[t])*(heatLevels-1)/maxDist)
	}
	fill := func(x0, y0, size int, c uint8) {
		for y := y0; y < y0+size; y++ {
			for x := x0; x < x0+size; x++ {
				img.Pix[y*img.Stride+x] = c
			}
		}
	}
	for t := range s.world {
		fill(t%gridSide*wholeScale, t/gridSide*wholeScale, wholeScale, tileColour(t))
	}
	for _, a := range s.agents {
		fill(a[0]*wholeScale, a[1]*wholeScale, wholeScale, colAgent)
	}
	// Goals as larger squares, and the zoom window around the first.
	zx, zy := 0, 0
	for t, v := range s.world {
		if v == tileGoal {
			x, y := t%gridSide, t/gridSide
			if zx == 0 && zy == 0 {
				zx, zy = min(max(0, x-zoom/2), gridSide-zoom), min(max(0, y-zoom/2), gridSide-zoom)
			}
			fill(min(max(0, x*wholeScale-2), gridSide*wholeScale-6), min(max(0, y*wholeScale-2), gridSide*wholeScale-6), 6, colGoal)
		}
	}
	ox := gridSide*wholeScale + 8
	for ty := range zoom {
		for tx := range zoom {
			t := tileAt(zx+tx, zy+ty)
			px, py := ox+tx*zoomScale, ty*zoomScale
			fill(px, py, zoomScale, tileColour(t))
			if dir := s.field.Flow[t]; dir != dirNone && s.world[t] == tileFloor {
				drawArrow(img, px, py, int(dir))
			}
		}
	}
	for _, a := range s.agents {
		if ax, ay := a[0]-zx, a[1]-zy; ax >= 0 && ay >= 0 && ax < zoom && ay < zoom {
			fill(ox+ax*zoomScale+4, ay*zoomScale+4, zoomScale-8, colAgent)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, img); err != nil {
		_ = f.Close() // the encoding error is the one to report
		return err
	}
	return f.Close()
}

// drawArrow draws a short line from the tile's centre toward dir, with a
// dot at the tip.
func drawArrow(img *image.Paletted, px, py, dir int) {
	c := zoomScale / 2
	dx, dy := dirDX[dir], dirDY[dir]
	for k := -c + 3; k < c-2; k++ { // the shaft, through the centre
		img.Pix[(py+c+dy*k)*img.Stride+px+c+dx*k] = colArrow
	}
	for back := 1; back <= 3; back++ { // the head, widening behind the tip
		tip := c - 3 - back
		for side := -back; side <= back; side++ {
			x, y := px+c+dx*tip+dy*side, py+c+dy*tip+dx*side
			img.Pix[y*img.Stride+x] = colArrow
		}
	}
}
