package inspector_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/inspector"
)

// chartPage draws, with the UI's own lineChart, one chart per case whose
// largest value formats to a long axis label, and records for each
// whether the label lies inside the chart (its box starts at x >= 0 of the
// SVG's coordinates; left of 0 is cut off).
const chartPage = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><body><script type="module">
import { lineChart, fmtBytes, fmtSeconds } from "/ui/util.js";
const cases = [
  ["log bytes/s near 1 MiB", 1048000, fmtBytes],
  ["tick p99 near 1 s", 0.99999, fmtSeconds],
  ["tick p99 of 60 ms", 0.06031, fmtSeconds],
  ["ops/s in the millions", 1234567, undefined],
];
const out = [];
for (const [name, v, format] of cases) {
  const c = lineChart(name, [{ name: "x", points: [{ t: 0, v: 0 }, { t: 1e9, v }] }], { format });
  document.body.append(c);
  const label = c.querySelector('[data-testid="chart-max"]');
  out.push(name + " (" + label.textContent + "): left edge at " + label.getBBox().x.toFixed(1));
  if (label.getBBox().x < 0) out.push("CUT");
}
window.chartResult = out.join("\n");
</script>`

// TestChartAxisLabelsFit: the y axis label of an Overview chart fits in
// the chart. The left margin was a fixed 48 units, and the log bytes
// chart's "1023.4 KiB" (a bus writing about 1 MiB/s) started 2.7 units
// left of the chart: its first digit was cut off. The labels are now
// measured (about 6.5 units a character) for the margin.
func TestChartAxisLabelsFit(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(inspector.UIPath, inspector.UIHandler())
	mux.HandleFunc("GET /chart", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(chartPage))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	tb := openTab(t, ts.URL+"/chart")
	tb.waitFor("the charts drawn", "window.chartResult !== undefined")
	res := evalTo[string](tb, "window.chartResult")
	t.Logf("axis labels:\n%s", res)
	for _, line := range strings.Split(res, "\n") {
		if line == "CUT" {
			t.Errorf("an axis label is cut at the chart's left edge:\n%s", res)
			break
		}
	}
	tb.checkConsole(t, "charts")
}
