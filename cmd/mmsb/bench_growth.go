package main

import (
	"context"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/harness"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// growthPoint is one measurement of `mmsb bench --workload growth`: the
// same deltas committed through an in-memory bus and applied by a bare Go
// loop to pre-faulted memory of the same size.
type growthPoint struct {
	Pages  int   `json:"pages"`
	Batch  int   `json:"batch"`
	Deltas int64 `json:"deltas"`

	DeltasPerSec     float64 `json:"deltas_per_sec"`
	BareDeltasPerSec float64 `json:"bare_deltas_per_sec"`
	Ratio            float64 `json:"ratio"` // bus / bare loop
	LatencyP99NS     int64   `json:"latency_p99_ns"`
	LatencyMaxNS     int64   `json:"latency_max_ns"`
	BareLatencyP99NS int64   `json:"bare_latency_p99_ns"`
	BareLatencyMaxNS int64   `json:"bare_latency_max_ns"`
	RSSBytes         int64   `json:"rss_bytes"` // process RSS after the bus's run
}

// growthResult is what `mmsb bench --workload growth --json` prints.
type growthResult struct {
	PageSize  int           `json:"page_size"`
	DeltaSize int           `json:"delta_size"`
	Seed      uint64        `json:"seed"`
	ByPages   []growthPoint `json:"by_pages"`
	ByBatch   []growthPoint `json:"by_batch"`
	Charts    []string      `json:"charts,omitempty"`
}

// parseCounts parses a comma-separated list of positive integers.
func parseCounts(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usageErr("%s: %q is not a positive integer", flag, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// runGrowthBench measures throughput and commit latency as the bus grows
// (--growth-pages, at --batch) and as batches grow (--growth-batches, at
// --growth-batch-pages pages), each point next to a bare Go loop applying
// the same deltas, and optionally draws charts.
func (a *app) runGrowthBench(ctx context.Context, o *benchOptions) error {
	pagesList, err := parseCounts("--growth-pages", o.growthPages)
	if err != nil {
		return err
	}
	batches, err := parseCounts("--growth-batches", o.growthBatches)
	if err != nil {
		return err
	}
	if o.dir != "" || o.shared {
		return usageErr("--workload growth measures in-memory buses: drop --dir and --shared")
	}
	// Every point's pages are pre-faulted by the bare loop (and by the bus
	// unless --lazy-page-memory): a count past the machine's memory is
	// refused before the first point is measured.
	for _, p := range pagesList {
		if err := checkPageMemory("--growth-pages", p, o.pageSize, false); err != nil {
			return err
		}
	}
	if err := checkPageMemory("--growth-batch-pages", o.growthBatchPages, o.pageSize, false); err != nil {
		return err
	}
	for _, b := range append([]int{o.batch}, batches...) {
		// One batch is one log record (see benchOptions.validate).
		if n := min(int64(b), growthDeltas(o, b)); n > tlog.MaxRecordBytes/int64(o.deltaSize) {
			return usageErr("batch %d × --delta-size %d: more than the %d bytes a log record holds (--batch and --growth-batches)",
				n, o.deltaSize, tlog.MaxRecordBytes)
		}
	}
	if o.plotDir != "" {
		// Made before the run, not with the charts after it: a --plot
		// that cannot be a directory lost every point measured. One
		// that names a file, or lies below one, can never work: a usage
		// error naming the flag (exit 2), as serve --dir and replay --out.
		if err := checkOutputDir(o.plotDir); err != nil {
			return usageErr("--plot %s: %v", o.plotDir, err)
		}
		// The charts replace only earlier charts, and go in no bus's
		// directory: refused before the run, so that a refusal costs
		// none (writeGrowthCharts checks again).
		if err := harness.CheckChartDir(o.plotDir, growthChartFiles); err != nil {
			return usageErr("--plot %s: %v", o.plotDir, strings.TrimPrefix(err.Error(), harness.ErrNotAnOutput.Error()+": "))
		}
		if err := os.MkdirAll(o.plotDir, 0o755); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	res := &growthResult{PageSize: o.pageSize, DeltaSize: o.deltaSize, Seed: o.seed}
	for _, p := range pagesList {
		pt, err := a.growthPoint(ctx, o, p, o.batch)
		if err != nil {
			return err
		}
		res.ByPages = append(res.ByPages, pt)
	}
	for _, b := range batches {
		pt, err := a.growthPoint(ctx, o, o.growthBatchPages, b)
		if err != nil {
			return err
		}
		res.ByBatch = append(res.ByBatch, pt)
	}
	if o.plotDir != "" {
		if res.Charts, err = writeGrowthCharts(o.plotDir, res); err != nil {
			return err
		}
	}
	if o.json {
		return a.printJSON(res)
	}
	a.printGrowth(res)
	return nil
}

// growthDeltas is how many deltas one point commits: --count, but at most
// 20,000 batches, so that batches of one delta still finish in seconds.
func growthDeltas(o *benchOptions, batch int) int64 {
	if int64(batch) > o.count/20_000 {
		// batch × 20,000 is past --count (and may be past MaxInt64:
		// --growth-batches 9223372036854775807 went negative and
		// panicked in makeslice).
		return o.count
	}
	return int64(batch) * 20_000
}

// growthPoint measures one (pages, batch) point: the bus first, then the
// bare loop, each on its own memory released before the next.
func (a *app) growthPoint(ctx context.Context, o *benchOptions, pages, batch int) (growthPoint, error) {
	po := *o
	po.pages, po.batch, po.count = pages, batch, growthDeltas(o, batch)
	pt := growthPoint{Pages: pages, Batch: batch, Deltas: po.count}
	if po.deltaSize > po.pageSize {
		return pt, usageErr("--delta-size must not exceed --page-size")
	}
	bus, err := mmsb.Open("", &mmsb.Options{Workers: po.workers, CheckpointBytes: po.checkpointBytes,
		LazyPageMemory: po.lazyPages, HugePages: po.hugePages})
	if err != nil {
		return pt, fmt.Errorf("open bus: %w", err)
	}
	var r benchResult
	ids, err := a.benchCreate(ctx, bus, &po, &r)
	if err == nil {
		err = a.benchCommit(ctx, bus, &po, ids, &r)
	}
	pt.RSSBytes, _ = readRSS()
	if cerr := bus.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close bus: %w", cerr)
	}
	if err != nil {
		return pt, fmt.Errorf("%s, batch %d: %w", counted(pages, "page", "pages"), batch, err)
	}
	pt.DeltasPerSec, pt.LatencyP99NS, pt.LatencyMaxNS = r.DeltasPerSec, r.LatencyP99NS, r.LatencyMaxNS
	debug.FreeOSMemory() // return the bus's memory before the bare loop maps its own

	bare, err := runBareLoop(&po)
	if err != nil {
		return pt, err
	}
	pt.BareDeltasPerSec, pt.BareLatencyP99NS, pt.BareLatencyMaxNS = bare.DeltasPerSec, bare.LatencyP99NS, bare.LatencyMaxNS
	if pt.BareDeltasPerSec > 0 {
		pt.Ratio = pt.DeltasPerSec / pt.BareDeltasPerSec
	}
	return pt, nil
}

// runBareLoop applies the bench's deltas (the same batches, from the same
// seed) with copy into one anonymous mapping holding every page back to
// back, pre-faulted, and with huge pages if asked, as the store prepares
// its chunks (page.MapAnon): the speed limit
// of the hardware for this access pattern, with no validation, log,
// history or epochs.
func runBareLoop(o *benchOptions) (benchResult, error) {
	n := o.pages * o.pageSize
	mem, err := page.MapAnon(n, page.MemoryPolicy{Prefault: true, HugePages: o.hugePages})
	if err != nil {
		return benchResult{}, fmt.Errorf("bare loop: %w", err)
	}
	defer page.Unmap(mem) //nolint:errcheck // releasing scratch memory
	return bareLoop(o, mem), nil
}

// bareLoop is runBareLoop's loop over mem, o.pages pages of o.pageSize
// bytes back to back. TestBareLoopWritesWhatTheBusHolds checks that it
// leaves mem holding the bytes of the bus's pages after the same run, so
// that the ratio compares the same work.
func bareLoop(o *benchOptions, mem []byte) benchResult {
	// IDs as the bus assigns them to a fresh bus: 1..pages.
	ids := make([]mmsb.PageID, o.pages)
	for i := range ids {
		ids[i] = mmsb.PageID(i + 1)
	}
	w := newBenchWorker(int(min(int64(o.batch), o.count)), o.deltaSize)
	batches := ceilDiv(o.count, int64(o.batch))
	start := time.Now()
	for b := int64(0); b < batches; b++ {
		k := int(min(int64(o.batch), o.count-b*int64(o.batch)))
		ds := w.fill(o.seed, uint64(b), k, ids, o.pageSize)
		t0 := time.Now()
		for i := range ds {
			d := &ds[i]
			base := int(d.Page-1) * o.pageSize
			for _, run := range d.Runs {
				copy(mem[base+int(run.Offset):], run.Data)
			}
		}
		w.lat.record(time.Since(t0).Nanoseconds())
	}
	el := time.Since(start)
	runtime.KeepAlive(mem)
	return benchResult{DeltasPerSec: float64(o.count) / max(el.Seconds(), 1e-9),
		LatencyP99NS: w.lat.quantile(0.99), LatencyMaxNS: w.lat.max}
}

func (a *app) printGrowth(r *growthResult) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "pages\tbatch\tdeltas\tbus deltas/s\tbare deltas/s\tratio\tbus p99\tbus max\tbare p99\tRSS\t\n")
	row := func(p growthPoint) {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%.3f\t%s\t%s\t%s\t%s\t\n", p.Pages, p.Batch, p.Deltas,
			humanCount(p.DeltasPerSec), humanCount(p.BareDeltasPerSec), p.Ratio,
			ms(p.LatencyP99NS), ms(p.LatencyMaxNS), ms(p.BareLatencyP99NS), humanBytes(p.RSSBytes))
	}
	for _, p := range r.ByPages {
		row(p)
	}
	for _, p := range r.ByBatch {
		row(p)
	}
	tw.Flush()
	for _, c := range r.Charts {
		fmt.Fprintf(a.stdout, "chart: %s\n", c)
	}
}

// growthChartFiles are the files --plot writes in its directory.
var growthChartFiles = []string{"growth-rate-vs-pages.png", "growth-latency-vs-pages.png", "growth-rate-vs-batch.png", "growth-latency-vs-batch.png"}

// writeGrowthCharts draws throughput and latency against page count and
// against batch size, as PNG files in dir (made before the run), and
// returns their paths.
func writeGrowthCharts(dir string, r *growthResult) ([]string, error) {
	type series struct {
		name string
		y    func(growthPoint) float64
		dash bool
		col  color.Color
	}
	blue, orange, grey := color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{100, 100, 100, 255}
	rate := []series{
		{"MMSB bus", func(p growthPoint) float64 { return p.DeltasPerSec / 1e6 }, false, blue},
		{"bare Go loop", func(p growthPoint) float64 { return p.BareDeltasPerSec / 1e6 }, true, grey},
	}
	lat := []series{
		{"bus commit p99", func(p growthPoint) float64 { return float64(p.LatencyP99NS) / 1e6 }, false, blue},
		{"bus commit max", func(p growthPoint) float64 { return float64(p.LatencyMaxNS) / 1e6 }, false, orange},
		{"bare loop p99", func(p growthPoint) float64 { return float64(p.BareLatencyP99NS) / 1e6 }, true, grey},
	}
	titles := growthChartTitles(r)
	charts := []struct {
		file, title, xlabel, ylabel string
		pts                         []growthPoint
		x                           func(growthPoint) float64
		ss                          []series
		legendLeft                  bool // where the lines leave room: rising lines, top left
	}{
		{growthChartFiles[0], titles[0], "pages (log scale)", "million deltas/s",
			r.ByPages, func(p growthPoint) float64 { return float64(p.Pages) }, rate, false},
		{growthChartFiles[1], titles[1], "pages (log scale)", "ms per batch (log scale)",
			r.ByPages, func(p growthPoint) float64 { return float64(p.Pages) }, lat, true},
		{growthChartFiles[2], titles[2], "deltas per batch (log scale)", "million deltas/s",
			r.ByBatch, func(p growthPoint) float64 { return float64(p.Batch) }, rate, true},
		{growthChartFiles[3], titles[3], "deltas per batch (log scale)", "ms per batch (log scale)",
			r.ByBatch, func(p growthPoint) float64 { return float64(p.Batch) }, lat, true},
	}
	var paths []string
	var files []harness.ChartFile
	for _, c := range charts {
		if len(c.pts) == 0 {
			continue
		}
		p := plot.New()
		p.Title.Text = c.title
		p.X.Label.Text, p.Y.Label.Text = c.xlabel, c.ylabel
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{}
		if strings.Contains(c.ylabel, "log") {
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{}
		}
		p.Legend.Top, p.Legend.Left = true, c.legendLeft
		p.Add(plotter.NewGrid())
		for _, s := range c.ss {
			xy := make(plotter.XYs, 0, len(c.pts))
			for _, pt := range c.pts {
				if y := s.y(pt); y > 0 {
					xy = append(xy, plotter.XY{X: c.x(pt), Y: y})
				}
			}
			if len(xy) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(xy)
			if err != nil {
				return nil, err
			}
			line.Color, points.Color = s.col, s.col
			if s.dash {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			p.Add(line, points)
			p.Legend.Add(s.name, line, points)
		}
		// Headroom above the lines for the legend, a margin left and right
		// so that the first and last points are not cut by the axes, and
		// throughput from zero.
		if strings.Contains(c.ylabel, "log") {
			p.Y.Max *= 8
		} else {
			p.Y.Min, p.Y.Max = 0, p.Y.Max*1.3
		}
		p.X.Min, p.X.Max = p.X.Min/1.3, p.X.Max*1.3
		wt, err := p.WriterTo(7*vg.Inch, 4*vg.Inch, "png")
		if err != nil {
			return nil, fmt.Errorf("--plot: %s: %w", c.file, err)
		}
		files = append(files, harness.ChartFile{Name: c.file, WriteTo: func(w io.Writer) error { _, err := wt.WriteTo(w); return err }})
		paths = append(paths, filepath.Join(dir, c.file))
	}
	// The charts replace only earlier charts, in no bus's directory,
	// checked again before they are renamed into place (the rule of
	// validate --report). p.Save wrote over any file of their names, a
	// bus's included, until 2026-12-07.
	if err := harness.WriteCharts(dir, files); err != nil {
		return nil, fmt.Errorf("--plot %s: %w", dir, err)
	}
	return paths, nil
}

// growthChartTitles returns the titles of the four growth charts, in
// the order of growthChartFiles. A count of one is said in the singular
// ("Throughput vs batch size (1 page)": it said "1 pages",
// TestGrowthChartTitlesSayOnePage).
func growthChartTitles(r *growthResult) [4]string {
	pages := counted(firstPages(r.ByBatch), "page", "pages")
	return [4]string{
		fmt.Sprintf("Throughput vs pages (batch %d)", firstBatch(r.ByPages)),
		fmt.Sprintf("Commit latency vs pages (batch %d)", firstBatch(r.ByPages)),
		fmt.Sprintf("Throughput vs batch size (%s)", pages),
		fmt.Sprintf("Commit latency vs batch size (%s)", pages),
	}
}

func firstBatch(p []growthPoint) int {
	if len(p) == 0 {
		return 0
	}
	return p[0].Batch
}

func firstPages(p []growthPoint) int {
	if len(p) == 0 {
		return 0
	}
	return p[0].Pages
}
