// Package chart draws the small PNG line charts of the examples with
// gonum/plot, so that each example states only its data.
package chart

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Series is one line of a chart.
type Series struct {
	Name   string
	X, Y   []float64
	Dashed bool
}

// Spec describes a line chart.
type Spec struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
	// HLine, when non-zero, draws a dotted horizontal reference line (a
	// budget) labelled HLineName.
	HLine     float64
	HLineName string
	// LegendRight and LegendBottom move the legend from the top left
	// corner to where the data leaves room.
	LegendRight, LegendBottom bool
	// Headroom raises the top of a linear Y axis to leave room for the
	// legend above the data.
	Headroom bool
}

// palette is readable in print and for the common colour blindnesses
// (Okabe-Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},
	color.RGBA{213, 94, 0, 255},
	color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255},
	color.RGBA{86, 180, 233, 255},
	color.RGBA{230, 159, 0, 255},
}

// Lines writes spec as a PNG of about 640×400 pixels to path.
func Lines(path string, spec Spec) error {
	p := plot.New()
	p.Title.Text = spec.Title
	p.X.Label.Text = spec.XLabel
	p.Y.Label.Text = spec.YLabel
	if spec.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if spec.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = !spec.LegendBottom
	p.Legend.Left = !spec.LegendRight
	xmin, xmax, ymax := 0.0, 0.0, 0.0
	seen := false
	for i, s := range spec.Series {
		xy := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if (spec.LogX && s.X[j] <= 0) || (spec.LogY && s.Y[j] <= 0) {
				continue // a log axis cannot show zero
			}
			xy = append(xy, plotter.XY{X: s.X[j], Y: s.Y[j]})
			if !seen || s.X[j] < xmin {
				xmin = s.X[j]
			}
			if !seen || s.X[j] > xmax {
				xmax = s.X[j]
			}
			seen = true
		}
		if len(xy) == 0 {
			continue
		}
		for _, v := range xy {
			ymax = max(ymax, v.Y)
		}
		line, points, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("chart %s, series %q: %w", path, s.Name, err)
		}
		c := palette[i%len(palette)]
		line.Color, points.Color = c, c
		points.Radius = vg.Points(2)
		if s.Dashed {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		if len(xy) > 60 { // a long series reads better as a bare line
			p.Add(line)
			p.Legend.Add(s.Name, line)
			continue
		}
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
	}
	if spec.Headroom && !spec.LogY {
		p.Y.Min, p.Y.Max = 0, 1.45*max(ymax, spec.HLine)
	}
	if spec.HLine != 0 && xmax > xmin {
		ref, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: spec.HLine}, {X: xmax, Y: spec.HLine}})
		if err != nil {
			return err
		}
		ref.Color = color.Gray{Y: 90}
		ref.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		p.Add(ref)
		p.Legend.Add(spec.HLineName, ref)
	}
	return save(p, path)
}

func save(p *plot.Plot, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := p.Save(6.4*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}
