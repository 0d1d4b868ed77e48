package inspector_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mmsb-go/mmsb"
)

// siblingTab opens another tab of first's browser: tabs of one browser
// share its connections to a server.
func siblingTab(t *testing.T, first *tab, parent context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	c := &consoleLog{}
	if err := chromedp.Listen(ctx, c.listen); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return &tab{t: t, ctx: ctx, console: c, shots: first.shots}
}

// setVisibility makes the page believe it was hidden or shown (as when
// its tab is left for another, or the window minimized) and tells it so.
func (tb *tab) setVisibility(state string) {
	tb.t.Helper()
	tb.eval(`Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "` + state + `" });
		Object.defineProperty(document, "hidden", { configurable: true, get: () => "` + state + `" === "hidden" });
		document.dispatchEvent(new Event("visibilitychange")); true`)
}

// TestInspectorHiddenTabsHoldNoConnection: over HTTP/1.1 (a server
// without TLS, as `mmsb serve` runs by default) a browser opens at most 6
// connections to one server for all its tabs, and each of the UI's
// streams (Changes in every view, Events in the events view) holds one
// for as long as the tab is open. Three tabs left on the events view used
// all 6: a fourth tab never loaded (its page load waited for a connection
// for ever), nor did any other call of the three. A tab out of sight now
// stops its streams: with three hidden tabs on the events view, a fourth
// loads and shows the pages; shown again, a tab reconnects, re-reads its
// view and follows commits again.
func TestInspectorHiddenTabsHoldNoConnection(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t)
	first := b.newTab(t)
	tabs := []*tab{first, siblingTab(t, first, first.ctx), siblingTab(t, first, first.ctx)}
	for _, tb := range tabs {
		f.login(tb, readToken)
		tb.route("#/events")
		tb.waitFor("the events view's history", jsCount(testid("event-row"))+" > 0")
		tb.setVisibility("hidden")
	}
	// The fourth tab gets a deadline: without a free connection its page
	// load never ends.
	ctx, cancel := context.WithTimeout(first.ctx, 2*pollTimeout)
	defer cancel()
	fourth := siblingTab(t, first, ctx)
	if _, err := chromedp.Run(fourth.ctx, chromedp.Navigate(f.url+"/ui/")); err != nil {
		t.Fatalf("a fourth tab beside three hidden ones on the events view: the inspector did not load: %v (the hidden tabs' streams hold every connection)", err)
	}
	f.login(fourth, readToken) // waits for the rows of the pages view
	fourth.checkConsole(t, "pages (fourth tab)")

	shown := tabs[0]
	shown.setVisibility("visible")
	shown.waitFor("the events view read again", jsCount(testid("event-row"))+" > 0 && "+jsQuery("events-info")+".textContent.match(/^[0-9,]+ events?$/)")
	before := evalTo[string](shown, jsQuery("committed-lsn")+".textContent")
	f.submit(t, mmsb.Write(f.layout.Sensors[0], 0, f64(99)))
	f.tick(t)
	shown.waitFor("the header's LSN to follow a commit", jsQuery("committed-lsn")+".textContent !== "+strconv.Quote(before))
	shown.checkConsole(t, "events (shown again)")
}
