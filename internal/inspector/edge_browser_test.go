package inspector_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// restartableServer serves an inspector (no auth) on a fixed loopback
// address that can be stopped and started again, as a server restarted
// under an open tab.
type restartableServer struct {
	t    *testing.T
	addr string
	mux  *http.ServeMux
	srv  *http.Server
}

func newRestartableServer(t *testing.T, o inspector.Options) *restartableServer {
	t.Helper()
	_, mux := mountInspector(t, o)
	r := &restartableServer{t: t, mux: mux}
	r.start("127.0.0.1:0")
	t.Cleanup(r.stop)
	return r
}

func (r *restartableServer) start(addr string) {
	r.t.Helper()
	var ln net.Listener
	var err error
	// The port was just released; a few tries cover a slow release.
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("listening on %s again: %v", addr, err)
	}
	r.addr = ln.Addr().String()
	r.srv = &http.Server{Handler: r.mux, ReadHeaderTimeout: 10 * time.Second}
	go func(s *http.Server) { _ = s.Serve(ln) }(r.srv)
}

// stop closes the listener and every connection, streams included.
func (r *restartableServer) stop() {
	if r.srv != nil {
		_ = r.srv.Close()
		r.srv = nil
	}
}

func (r *restartableServer) url() string { return "http://" + r.addr }

// The server goes away under an open tab and comes back: the banner says
// it is unreachable (not a browser's "Failed to fetch"), the LSN is marked
// stale, and when it is back the banner clears, the pages view re-reads
// the rows and the events view (its stream ended with the server) shows
// history and live events again.
func TestInspectorServerGoneAndBack(t *testing.T) {
	ctx := context.Background()
	bus, layout, orch := demoBusWithTicks(t)
	rs := newRestartableServer(t, inspector.Options{Bus: bus, Ticks: orch, PollInterval: 50 * time.Millisecond})
	tb := openTab(t, rs.url()+"/ui/#/pages")
	tb.waitFor("rows", jsCount(testid("page-row"))+" > 0")

	addr := rs.addr
	rs.stop()
	tb.waitFor("the server named unreachable in the banner", fmt.Sprintf(`!%s.hidden && %s.textContent.includes("server unreachable") && %s.classList.contains("stale")`,
		jsQuery("error"), jsQuery("error"), jsQuery("committed-lsn")))
	tb.screenshot("server-gone")
	// Written while the tab could not hear of it.
	first := layout.Sensors[0]
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(first, 0, f64(42))}); err != nil {
		t.Fatal(err)
	}
	pi, err := bus.Page(first)
	if err != nil {
		t.Fatal(err)
	}
	rs.start(addr)
	tb.waitFor("the banner cleared and the row re-read", fmt.Sprintf(`%s.hidden && !%s.classList.contains("stale") && document.querySelector('[data-testid="page-row"][data-id="%d"] [data-col="epoch"]').textContent === %q`,
		jsQuery("error"), jsQuery("committed-lsn"), first, fmt.Sprint(pi.Epoch)))

	// The events view: its stream ends with the server and must come back.
	tb.route("#/events")
	if _, err := orch.Tick(ctx); err != nil { // raises the alarm's flag
		t.Fatal(err)
	}
	tb.waitFor("the flag event", `document.querySelector('.ev-flag') !== null`)
	rs.stop()
	tb.waitFor("the events view disconnected", jsQuery("events-info")+`.textContent.includes("disconnected")`)
	rs.start(addr)
	tb.waitFor("the banner cleared", jsQuery("error")+".hidden")
	bad := mmsb.Write(999999, 0, []byte{1}) // no such page: rejected at the tick
	if err := orch.Submit(ctx, &bad); err != nil {
		t.Fatal(err)
	}
	if _, err := orch.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	tb.waitFor("a live event after the server came back", `document.querySelector('.ev-rejected') !== null && document.querySelectorAll('.ev-flag').length === 1`)
	tb.screenshot("server-back")
	// The browser logs the refused connections while the server is away.
	tb.checkConsole(t, "server gone", "ERR_CONNECTION_REFUSED", "ERR_EMPTY_RESPONSE", "ERR_CONNECTION_RESET", "ERR_INCOMPLETE_CHUNKED_ENCODING")
}

// A bus with no pages, a page of 16 MiB and a page freed under an open
// page view.
func TestInspectorEdgeCases(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	rs := newRestartableServer(t, inspector.Options{Bus: bus, PollInterval: 50 * time.Millisecond})
	tb := newBrowser(t).newTab(t)

	t.Run("a bus with no pages", func(t *testing.T) {
		tb := tb.with(t)
		tb.open(rs.url() + "/ui/#/pages")
		tb.waitFor("an empty table", jsQuery("page-info")+`.textContent === "0–0 of 0 pages" && `+jsCount(testid("page-row"))+" === 0")
		tb.route("#/graph")
		tb.waitFor("no pages to draw", jsQuery("graph-info")+`.textContent === "the bus has no pages"`)
		tb.route("#/log")
		tb.waitFor("an empty log", jsQuery("log-info")+`.textContent === "the log holds no operations"`)
		tb.route("#/overview")
		tb.waitFor("0 pages", jsQuery("ov-pages")+`.textContent.includes("0")`)
		// An idle chart's axis: no exponent ("1e-12 B").
		tb.waitFor("the log bytes chart", jsQuery("chart-logbytes")+" !== null")
		if txt := evalTo[string](tb, jsQuery("chart-logbytes")+".textContent"); strings.Contains(txt, "e-") {
			tb.fail("the idle log bytes chart reads %q", txt)
		}
		tb.screenshot("empty-bus")
		if evalTo[bool](tb, jsQuery("error")+".hidden") != true {
			tb.fail("an empty bus showed an error")
		}
		tb.checkConsole(t, "empty bus")
	})

	const big = mmsb.MaxPageSize
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: big}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	bigID, small := ids[0], ids[1]
	const at = 16_000_000
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(bigID, at, []byte{0xde, 0xad, 0xbe, 0xef})}); err != nil {
		t.Fatal(err)
	}

	t.Run("a page of 16 MiB", func(t *testing.T) {
		tb := tb.with(t)
		tb.route(fmt.Sprintf("#/page/%d", bigID))
		tb.waitFor("the first window", jsQuery("window-info")+`.textContent === "bytes 0–1,023 of 16,777,216"`)
		// 15,625 clicks on ▶ away: the go-to field jumps there.
		tb.waitFor("the go-to field", jsQuery("window-goto")+" !== null")
		tb.eval(fmt.Sprintf(`{ const g = %s; g.value = "%d"; g.dispatchEvent(new Event("change")); true }`, jsQuery("window-goto"), at))
		tb.waitFor("the written bytes, highlighted", fmt.Sprintf(`%s.textContent === "de" && %s.classList.contains("changed-0")`, byteCell(at), byteCell(at)))
		// Past the end: the last window.
		tb.eval(fmt.Sprintf(`{ const g = %s; g.value = "%d"; g.dispatchEvent(new Event("change")); true }`, jsQuery("window-goto"), int64(1)<<40))
		tb.waitFor("the last window", jsQuery("window-info")+`.textContent === "bytes 16,776,192–16,777,215 of 16,777,216" && `+
			byteCell(big-1024)+`.textContent === "00" && `+jsQuery("window-goto")+`.value === "16777215"`)
		tb.screenshot("page-16mib")
		tb.checkConsole(t, "16 MiB page")
	})

	t.Run("a page freed under the page view", func(t *testing.T) {
		tb := tb.with(t)
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(small, 0, []byte("still here"))}); err != nil {
			t.Fatal(err)
		}
		tb.route(fmt.Sprintf("#/page/%d", small))
		tb.waitFor("its bytes", byteCell(0)+`.textContent === "73"`)
		if err := bus.FreePage(ctx, small); err != nil {
			t.Fatal(err)
		}
		tb.waitFor("the page gone, no stale bytes", fmt.Sprintf(`%s !== null && %s.textContent.includes("does not exist") && %s === 0 && !%s.hidden`,
			jsQuery("page-gone"), jsQuery("page-gone"), jsCount(testid("byte")), jsQuery("error")))
		tb.screenshot("page-freed")
		tb.checkConsole(t, "freed page", "status of 404")
		// The pages view no longer lists it.
		tb.route("#/pages")
		tb.waitFor("one page left", jsQuery("page-info")+`.textContent === "1–1 of 1 page"`)
	})
}
