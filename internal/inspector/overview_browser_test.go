package inspector_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/tick"
)

// TestInspectorOverviewWaitsForItsSample: in Chromium, the Overview sends
// its next sample (an Overview call, every second) only once the last is
// answered. A server that holds the first Overview call gets no second
// one for 2.5 s (a bound for the wait, not a measure of it); released, the
// view draws its cards. Before, a new call went out every second on top
// of those waiting: each held one of the browser's 6 connections over
// HTTP/1.1, until the other views' calls waited behind them.
func TestInspectorOverviewWaitsForItsSample(t *testing.T) {
	bus, _, _, _ := serviceFixture(t)
	_, mux := mountInspector(t, inspector.Options{Bus: bus})
	var mu sync.Mutex
	calls := 0
	held := make(chan struct{})
	first := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/Overview") {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n == 1 {
				close(first)
				select { // the first Overview waits until the test lets it go
				case <-held:
				case <-r.Context().Done():
				}
			}
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	defer func() {
		select {
		case <-held:
		default:
			close(held)
		}
	}()
	tb := openTab(t, ts.URL+"/ui/#/overview")
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		tb.fail("the Overview view sent no Overview call")
	}
	time.Sleep(2500 * time.Millisecond)
	mu.Lock()
	n := calls
	mu.Unlock()
	if n != 1 {
		tb.fail("%d Overview calls while the first was unanswered, want 1 (a new one every second piled up)", n)
	}
	close(held)
	tb.waitFor("the overview's cards", jsQuery("ov-pages")+` !== null`)
	// The log card counts what this process wrote (LogStats is cumulative
	// since Open): a bus reopened with a full log read "log 0 records, 0 B"
	// beside its committed LSN, as if its log were empty.
	tb.waitFor("the log card saying it counts since the bus was opened", jsQuery("ov-log")+`.textContent.includes("since the bus was opened")`)
	tb.checkConsole(t, "overview")
}

// slowHistoryMetrics serves an fsync histogram that held 1,000 slow
// fsyncs (up to 1 s) at its first scrape and gains 100 fast ones (up to
// 100 µs) at each after.
type slowHistoryMetrics struct {
	mu      sync.Mutex
	scrapes int
}

func (m *slowHistoryMetrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	m.scrapes++
	fast := 100 * (m.scrapes - 1)
	m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, `# TYPE mmsb_log_fsync_duration_seconds histogram
mmsb_log_fsync_duration_seconds_bucket{le="0.0001"} %d
mmsb_log_fsync_duration_seconds_bucket{le="1"} %d
mmsb_log_fsync_duration_seconds_bucket{le="+Inf"} %d
mmsb_log_fsync_duration_seconds_sum %g
mmsb_log_fsync_duration_seconds_count %d
`, fast, 1000+fast, 1000+fast, 500+float64(fast)*0.00005, 1000+fast)
}

// TestInspectorFsyncStartsAtTheSecondScrape: in Chromium, the Overview's
// "fsync p99 (last second)" card says "measuring…" at the first scrape
// of /metrics, whose histogram holds every fsync since the server
// started, and then the p99 between scrapes (fast ones, µs). Before, the
// first sample showed the p99 of the server's whole history (1,000 slow
// fsyncs: 990.00 ms) as the last second's.
func TestInspectorFsyncStartsAtTheSecondScrape(t *testing.T) {
	bus, _, _, _ := serviceFixture(t)
	_, mux := mountInspector(t, inspector.Options{Bus: bus})
	mux.Handle("GET "+inspector.MetricsPath, &slowHistoryMetrics{})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	tb := openTab(t, ts.URL+"/ui/#/overview")
	tb.waitFor("the overview", jsQuery("overview")+` !== null`)
	// Every text the card shows, from the first on.
	tb.eval(`(() => {
	  window.fsyncTexts = [];
	  const note = () => { const c = document.querySelector('[data-testid="ov-fsync"]'); if (c) window.fsyncTexts.push(c.textContent); };
	  note();
	  new MutationObserver(note).observe(document.querySelector('[data-testid="overview"]'), { childList: true, subtree: true, characterData: true });
	  return true;
	})()`)
	tb.waitFor("the p99 of the fast fsyncs", jsQuery("ov-fsync")+`.textContent.endsWith("µs")`)
	for _, s := range evalTo[[]string](tb, `window.fsyncTexts`) {
		if strings.HasSuffix(s, " ms") || strings.HasSuffix(s, " s") {
			tb.fail("the fsync card showed %q: the p99 of the server's whole history, as the last second's (texts: %q)", s, evalTo[[]string](tb, `window.fsyncTexts`))
		}
	}
	tb.checkConsole(t, "overview")
}

// TestInspectorPhaseTableFits: in Chromium, 1,400 px wide (four chart
// columns of about 330 px), the Overview's tick phase table lies inside
// its card with latencies of tens of milliseconds in every column (a
// recompute function that sleeps 30 ms). Before, its "max" column ran
// under the next card, cut off.
func TestInspectorPhaseTableFits(t *testing.T) {
	ctx := context.Background()
	slow := func(in [][]byte, _ []byte, out []byte) error {
		time.Sleep(30 * time.Millisecond)
		copy(out, in[0])
		return nil
	}
	bus, err := mmsb.Open("", &mmsb.Options{Functions: map[string]mmsb.RecomputeFunc{"test.slow": slow}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, ids[1], "test.slow", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	orch, err := tick.New(bus, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = orch.Close() })
	for i := range 3 {
		d := mmsb.Write(ids[0], 0, []byte{byte(i + 1)})
		if err := orch.Submit(ctx, &d); err != nil {
			t.Fatal(err)
		}
		if _, err := orch.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus, Ticks: orch})
	tb := newBrowser(t).newTab(t)
	tb.do(chromedp.EmulateViewport(1400, 900))
	tb.open(url + "/ui/#/overview")
	tb.waitFor("the phase table with tens of milliseconds", jsCount(testid("phases")+" tr")+` === 7 && `+jsQuery("phases")+`.textContent.includes("ms")`)
	if over := evalTo[float64](tb, `(() => { const t = `+jsQuery("phases")+`, c = t.closest(".chart");
	  return t.getBoundingClientRect().right - c.getBoundingClientRect().right; })()`); over > 0 {
		tb.fail("the tick phase table ends %.1f px right of its card", over)
	}
	tb.screenshot("phase-table")
	tb.checkConsole(t, "overview")
}
