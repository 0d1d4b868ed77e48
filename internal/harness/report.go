package harness

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// ReportFile is the HTML page WriteHTMLReport writes into its directory.
const ReportFile = "index.html"

// Chart is one PNG chart of an HTML report.
type Chart struct {
	File    string // file name in the report directory
	Title   string
	Caption string
}

// chartSpec draws one chart from a report, or returns nil when the report
// lacks its data (that benchmark was not run).
type chartSpec struct {
	file, title, caption string
	build                func(rep *Report) (*plot.Plot, error)
}

func resultByKey(rep *Report, key string) *Result {
	for i := range rep.Results {
		if rep.Results[i].Key == key {
			return &rep.Results[i]
		}
	}
	return nil
}

var chartSpecs = []chartSpec{
	{"throughput.png", "Throughput vs apply workers (#5)", "Deltas committed per second through the real commit path, measured separately at each worker count.",
		func(rep *Report) (*plot.Plot, error) {
			r := resultByKey(rep, "throughput")
			if r == nil || len(r.Series["deltas_per_sec_by_workers"]) == 0 {
				return nil, nil
			}
			s := r.Series["deltas_per_sec_by_workers"]
			p := plot.New()
			p.Title.Text = "Throughput vs workers"
			p.X.Label.Text = "apply workers"
			p.Y.Label.Text = "deltas/s (millions)"
			xy := make(plotter.XYs, len(s))
			for i, v := range s {
				xy[i] = plotter.XY{X: float64(i + 1), Y: v / 1e6}
			}
			line, points, err := plotter.NewLinePoints(xy)
			if err != nil {
				return nil, err
			}
			p.Add(line, points, plotter.NewGrid())
			p.Y.Min = 0
			return p, nil
		}},
	{"tick_latency.png", "Tick latency distribution (#6)", "Histogram of whole-tick latencies (drain, commit and log, propagate, sampled invariants, publish).",
		func(rep *Report) (*plot.Plot, error) {
			r := resultByKey(rep, "tick")
			if r == nil || len(r.Series["tick_ms"]) == 0 {
				return nil, nil
			}
			p := plot.New()
			p.Title.Text = "Tick latency"
			p.X.Label.Text = "ms per tick"
			p.Y.Label.Text = "ticks"
			h, err := plotter.NewHist(plotter.Values(r.Series["tick_ms"]), 30)
			if err != nil {
				return nil, err
			}
			p.Add(h, plotter.NewGrid())
			return p, nil
		}},
	{"memory.png", "Memory per page (#7)", "Process RSS growth per page (average and marginal) and logical bytes per page, against the 1 KiB/page budget.",
		func(rep *Report) (*plot.Plot, error) {
			r := resultByKey(rep, "memory")
			if r == nil || r.Metrics == nil {
				return nil, nil
			}
			names := []string{"RSS/page", "marginal RSS/page", "logical/page", "budget"}
			vals := plotter.Values{r.Metrics["rss_per_page_bytes"], r.Metrics["rss_marginal_per_page_bytes"], r.Metrics["logical_per_page_bytes"], 1024}
			p := plot.New()
			p.Title.Text = "Memory per page"
			p.Y.Label.Text = "bytes"
			bars, err := plotter.NewBarChart(vals, vg.Points(40))
			if err != nil {
				return nil, err
			}
			p.Add(bars, plotter.NewGrid())
			p.NominalX(names...)
			return p, nil
		}},
	{"stability.png", "Stability (#9)", "Value of one simulated cell per step, unperturbed and perturbed.",
		func(rep *Report) (*plot.Plot, error) {
			r := resultByKey(rep, "stability")
			if r == nil || len(r.Series["cell0_unperturbed"]) == 0 {
				return nil, nil
			}
			p := plot.New()
			p.Title.Text = "Diffusion in pages: cell 0"
			p.X.Label.Text = "step"
			p.Y.Label.Text = "value"
			for i, k := range []string{"cell0_unperturbed", "cell0_perturbed"} {
				s := r.Series[k]
				xy := make(plotter.XYs, len(s))
				for j, v := range s {
					xy[j] = plotter.XY{X: float64(j), Y: v}
				}
				l, err := plotter.NewLine(xy)
				if err != nil {
					return nil, err
				}
				l.Color = plotter.DefaultLineStyle.Color
				if i == 1 {
					l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				}
				p.Add(l)
				p.Legend.Add(strings.TrimPrefix(k, "cell0_"), l)
			}
			p.Add(plotter.NewGrid())
			return p, nil
		}},
}

// reportPage is the HTML template's data.
type reportPage struct {
	Rep    *Report
	Table  string
	Charts []Chart
	// Omitted names the charts whose data could not be drawn (a failed
	// run's NaN or Inf figures), with the reason.
	Omitted []string
	Rows    []reportRow
}

type reportRow struct {
	Result
	Mark    string
	Metrics []string
}

var reportTmpl = template.Must(template.New("report").Parse(reportHead + `
<style>
body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;width:100%;font-size:90%}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
.pass{color:#080}.fail{color:#b00;font-weight:bold}
pre{background:#f6f6f6;padding:1em;overflow-x:auto}
figure{display:inline-block;margin:1em}
small{color:#666}
</style></head><body>
<h1>MMSB validation report</h1>
<p>{{.Rep.Passed}}/{{.Rep.Total}} PASS · {{if .Rep.Quick}}quick run (timing checks shown, not gating){{else}}full run{{end}} ·
{{.Rep.Machine}} · {{.Rep.GoVer}} · started {{.Rep.Started.Format "2006-01-02 15:04:05 MST"}} · {{printf "%.1f" .Rep.Duration}} s</p>
<pre>{{.Table}}</pre>
<h2>Benchmarks</h2>
<table><tr><th>#</th><th>Benchmark</th><th>Target</th><th>Checks</th><th>Metrics</th></tr>
{{range .Rows}}<tr><td>{{.ID}}</td><td><span class="{{if .Pass}}pass{{else}}fail{{end}}">{{.Mark}}</span> {{.Name}}<br><small>{{.Summary}}</small>{{if .Error}}<br><span class="fail">error: {{.Error}}</span>{{end}}</td>
<td>{{.Target}}</td>
<td>{{range .Checks}}<span class="{{if .Pass}}pass{{else}}fail{{end}}">{{if .Pass}}✓{{else}}✗{{end}}</span> {{.Name}} = {{printf "%.4g" .Value}}{{if .Unit}} {{.Unit}}{{end}} <small>({{if .Semantic}}semantic{{else}}timing{{end}}; {{.Target}})</small><br>{{end}}</td>
<td><small>{{range .Metrics}}{{.}}<br>{{end}}</small></td></tr>
{{end}}</table>
<h2>Charts</h2>
{{range .Charts}}<figure><img src="{{.File}}" alt="{{.Title}}" width="560"><figcaption><b>{{.Title}}</b><br><small>{{.Caption}}</small></figcaption></figure>
{{else}}<p>No chart: the benchmarks they draw (#5, #6, #7, #9) were not run.</p>{{end}}
{{range .Omitted}}<p class="fail">Chart omitted: {{.}}</p>{{end}}
</body></html>
`))

// reportHead begins every index.html WriteHTMLReport writes: how an
// earlier report, which a new one may replace, is told from a user's page.
const reportHead = `<!doctype html>
<html><head><meta charset="utf-8"><title>MMSB validation report</title>`

// pngMagic begins every PNG file (the charts).
var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// ErrNotAReport is the refusal of CheckReportDir: a file a report would
// replace is not one an earlier report wrote, or the directory is a
// bus's. Nothing was written.
var ErrNotAReport = errors.New("harness: report")

// CheckReportDir reports whether WriteHTMLReport may write into dir. A
// report replaces only an earlier report's files: an existing index.html
// must begin as one (reportHead), and an existing chart file must be a
// PNG beside such an index.html; anything else there (a web site's
// index.html or its memory.png, a device, a link, a file that cannot be
// read) is refused, naming it. So is a bus's directory, or its wal/,
// checkpoints/ or shared/ (it holds a log segment, a checkpoint, LOCK or
// log-mode, or lies beside a LOCK): a report there is a stray file among
// the bus's. A dir that does not exist is fine (WriteHTMLReport makes it).
// WriteHTMLReport wrote into any directory, replacing whatever index.html
// and chart files it held, until 2026-12-07.
func CheckReportDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNotAReport, dir, err)
	}
	for _, e := range entries {
		if n := e.Name(); isBusName(n) {
			return fmt.Errorf("%w: %s holds %s: it is a bus's directory, and a report there would be a stray file among its files: "+
				"name a directory of its own; nothing was written", ErrNotAReport, dir, n)
		}
	}
	// Absolute first: --report . run in a bus's wal/.
	if abs, err := filepath.Abs(dir); err == nil {
		if base := filepath.Base(abs); base == "wal" || base == "checkpoints" || base == "shared" {
			if st, err := os.Lstat(filepath.Join(filepath.Dir(abs), "LOCK")); err == nil && st.Mode().IsRegular() {
				return fmt.Errorf("%w: %s is the %s/ directory of the bus beside its LOCK, and a report there would be a stray file among its files: "+
					"name a directory of its own; nothing was written", ErrNotAReport, dir, base)
			}
		}
	}
	index, err := existingOutput(filepath.Join(dir, ReportFile), []byte(reportHead), "an earlier report")
	if err != nil {
		return err
	}
	for _, cs := range chartSpecs {
		path := filepath.Join(dir, cs.file)
		chart, err := existingOutput(path, pngMagic, "a PNG chart")
		if err != nil {
			return err
		}
		if chart && !index {
			// A PNG of the same name beside no report: a user's.
			return fmt.Errorf("%w: %s exists beside no earlier %s, so it is no chart of a report, and the report would replace it: "+
				"name a new or empty directory, or one holding an earlier report; nothing was written", ErrNotAReport, path, ReportFile)
		}
	}
	return nil
}

// isBusName reports whether name is one only a bus gives a file in its
// directory or in its wal/ or checkpoints/.
func isBusName(name string) bool {
	if name == "LOCK" || name == tlog.ModeFileName {
		return true
	}
	if _, ok := tlog.ParseSegmentName(name); ok {
		return true
	}
	_, ok := checkpoint.ParseName(name)
	return ok
}

// existingOutput reports whether path exists and begins with magic (what
// names it); an existing path that does not, is no regular file or
// cannot be read is an ErrNotAReport error.
func existingOutput(path string, magic []byte, what string) (bool, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err == nil && !st.Mode().IsRegular() {
		err = errors.New("it is no regular file (a directory, a link, a device)")
	}
	var head []byte
	if err == nil {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			head = make([]byte, len(magic))
			_, err = io.ReadFull(f, head)
			_ = f.Close() // read-only
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				err = nil // too short: not magic, said below
			}
		}
	}
	if err != nil {
		return false, fmt.Errorf("%w: %s exists and cannot be told to be %s (%v), and the report would replace it: "+
			"name a new or empty directory; nothing was written", ErrNotAReport, path, what, err)
	}
	if !bytes.Equal(head, magic) {
		return false, fmt.Errorf("%w: %s exists and is not %s, which the report would replace: "+
			"name a new or empty directory, or one holding an earlier report; nothing was written", ErrNotAReport, path, what)
	}
	return true, nil
}

// reportBeforeRecheck runs before WriteHTMLReport checks dir again; a
// test makes a file there.
var reportBeforeRecheck = func() {}

// WriteHTMLReport writes dir/index.html (the table, every check and metric
// of every benchmark) and PNG charts of the figures it has: throughput vs
// workers (#5), tick latency distribution (#6), memory per page (#7) and
// the stability trajectories (#9). It returns the charts written.
//
// It writes only where CheckReportDir allows, checked before anything is
// written and again before the files are put in place: each is written
// to a temporary file beside it (.NAME.tmp-*) and renamed over it, the
// charts first and index.html last. A refusal or a failure leaves dir's
// files as they were, and no temporary file.
func WriteHTMLReport(dir string, rep *Report) (_ []Chart, err error) {
	if err := CheckReportDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("harness: report: %w", err)
	}
	type output struct{ tmp, path string }
	var outs []output
	defer func() {
		if err != nil {
			for _, o := range outs {
				_ = os.Remove(o.tmp) // not renamed: nothing of the caller's
			}
		}
	}()
	// write writes one output to a temporary file beside name.
	write := func(name string, to func(io.Writer) error) error {
		path := filepath.Join(dir, name)
		f, err := os.CreateTemp(dir, "."+name+".tmp-*")
		if err != nil {
			return fmt.Errorf("harness: report: %w", err)
		}
		outs = append(outs, output{f.Name(), path})
		err = to(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("harness: report: %s: %w", name, err)
		}
		return nil
	}
	var charts []Chart
	var omitted []string
	for _, cs := range chartSpecs {
		p, err := cs.build(rep)
		if err != nil {
			// The data cannot be drawn (NaN or Inf from a failed run): the
			// report of a failed run matters most, so leave the chart out
			// and say why instead of writing no report at all.
			omitted = append(omitted, fmt.Sprintf("%s (%s): %v", cs.file, cs.title, err))
			continue
		}
		if p == nil {
			continue
		}
		wt, err := p.WriterTo(7*vg.Inch, 4*vg.Inch, "png")
		if err != nil {
			return nil, fmt.Errorf("harness: report: %s: %w", cs.file, err)
		}
		if err := write(cs.file, func(w io.Writer) error { _, err := wt.WriteTo(w); return err }); err != nil {
			return nil, err
		}
		charts = append(charts, Chart{File: cs.file, Title: cs.title, Caption: cs.caption})
	}
	var table strings.Builder
	rep.WriteTable(&table)
	page := reportPage{Rep: rep, Table: table.String(), Charts: charts, Omitted: omitted}
	for _, r := range rep.Results {
		row := reportRow{Result: r, Mark: "✓"}
		if !r.Pass {
			row.Mark = "✗"
		}
		keys := make([]string, 0, len(r.Metrics))
		for k := range r.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			row.Metrics = append(row.Metrics, fmt.Sprintf("%s = %.4g", k, r.Metrics[k]))
		}
		page.Rows = append(page.Rows, row)
	}
	if err := write(ReportFile, func(w io.Writer) error { return reportTmpl.Execute(w, page) }); err != nil {
		return nil, err
	}
	// Checked again: something may have made one of the files since
	// the check before the run (which is minutes long) or the one above.
	reportBeforeRecheck()
	if err := CheckReportDir(dir); err != nil {
		return nil, err
	}
	for i, o := range outs {
		if err := os.Rename(o.tmp, o.path); err != nil {
			outs = outs[i:] // those renamed are in place
			return nil, fmt.Errorf("harness: report: %w", err)
		}
	}
	return charts, nil
}
