package harness

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

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

// ErrNotAReport is the refusal of CheckReportDir: a file a report would
// replace is not one an earlier report wrote, or the directory is a
// bus's. Nothing was written.
var ErrNotAReport = errors.New("harness: report")

// ReportFiles returns the names of the files WriteHTMLReport writes into
// its directory: ReportFile and every chart's PNG.
func ReportFiles() []string {
	names := []string{ReportFile}
	for _, cs := range chartSpecs {
		names = append(names, cs.file)
	}
	return names
}

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
	files := []outputFile{{name: ReportFile, magic: []byte(reportHead), what: "an earlier report"}}
	for _, cs := range chartSpecs {
		files = append(files, outputFile{name: cs.file, magic: pngMagic, what: "a PNG chart"})
	}
	earlier, err := checkOutputs(dir, reportKind, files)
	if err != nil {
		return err
	}
	for i, f := range files[1:] {
		if earlier[i+1] && !earlier[0] {
			// A PNG of the same name beside no report: a user's.
			return fmt.Errorf("%w: %s exists beside no earlier %s, so it is no chart of a report, and the report would replace it: "+
				"name a new or empty directory, or one holding an earlier report; nothing was written", ErrNotAReport, filepath.Join(dir, f.name), ReportFile)
		}
	}
	return nil
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
	var outs []pendingOutput
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
		outs = append(outs, pendingOutput{cs.file, func(w io.Writer) error { _, err := wt.WriteTo(w); return err }})
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
	outs = append(outs, pendingOutput{ReportFile, func(w io.Writer) error { return reportTmpl.Execute(w, page) }})
	// Checked again before the renames: something may have made one of
	// the files since the check before the run (which is minutes long)
	// or the one above.
	err = writeOutputs(dir, outs, func() error { reportBeforeRecheck(); return CheckReportDir(dir) }, "harness: report")
	if err != nil {
		return nil, err
	}
	return charts, nil
}
