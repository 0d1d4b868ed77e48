package inspector_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/inspector"
)

// idleChartPage draws, with the UI's own lineChart, charts with no
// samples and with samples that are all zero, in each format the Overview
// uses, and records the top of each one's y axis.
const idleChartPage = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><body><script type="module">
import { lineChart, fmtBytes, fmtSeconds } from "/ui/util.js";
const out = [];
for (const [name, format] of [["plain", undefined], ["bytes", fmtBytes], ["seconds", fmtSeconds]]) {
  for (const [what, points] of [["no samples", []], ["zeros", [{ t: 0, v: 0 }, { t: 1e9, v: 0 }]]]) {
    const c = lineChart(name, [{ name: "x", points }], { format });
    document.body.append(c);
    out.push(name + ", " + what + ": " + c.querySelector('[data-testid="chart-max"]').textContent);
  }
}
window.chartResult = out.join("\n");
</script>`

// TestInspectorIdleChartAxis: an Overview chart with no samples, or only
// zeros (an idle bus, a failed one), tops its y axis at 1 of its unit,
// not at 0: the axis read "0.00" (or "0 B", "0 µs") over "0", a range of
// nothing, as on an empty bus's and a failed bus's Overview.
func TestInspectorIdleChartAxis(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(inspector.UIPath, inspector.UIHandler())
	mux.HandleFunc("GET /chart", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(idleChartPage))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	tb := openTab(t, ts.URL+"/chart")
	tb.waitFor("the charts drawn", "window.chartResult !== undefined")
	res := evalTo[string](tb, "window.chartResult")
	t.Logf("axis tops:\n%s", res)
	for _, line := range strings.Split(res, "\n") {
		_, top, _ := strings.Cut(line, ": ")
		if !strings.HasPrefix(top, "1") {
			t.Errorf("an idle chart's axis tops at %q (%s), want 1 of its unit", top, line)
		}
	}
	tb.checkConsole(t, "idle charts")
}
