package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorGraphFocusNotKeptPastRefusal: in Chromium, Enter on a graph
// node whose route comes after the token was refused (the Changes stream
// refused it between the key and the route: the view is blanked, nothing
// drawn) leaves nothing behind either: once a new token is entered and
// another view shown, the graph of that page opened later as a click
// would does not take the focus to its node. The route that drew nothing
// kept the page Enter centred on, for the next graph of it to focus.
func TestInspectorGraphFocusNotKeptPastRefusal(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	ids := createSmallPages(t, bus, 3)
	a, b, sum := ids[0], ids[1], ids[2]
	if err := bus.Bind(ctx, sum, "f64.sum", nil, []mmsb.PageID{a, b}); err != nil {
		t.Fatal(err)
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, "about:blank")
	// Before the app's code: every fetch of Changes can be cut
	// (changesCut) or refused as unauthenticated (refuse), and a route
	// held back (holdRoute: the app's hashchange listener, registered
	// after this one, does not run).
	const hooks = `window.realFetch = window.fetch;
window.fetch = (u, o) => {
  if (!String(u).endsWith("/Changes")) return window.realFetch(u, o);
  if (window.refuse) return Promise.resolve(new Response('{"code":"unauthenticated","message":"bad token"}', {status: 401}));
  window.changesCut = new AbortController();
  return window.realFetch(u, {...o, signal: AbortSignal.any([o.signal, window.changesCut.signal])});
};
window.addEventListener("hashchange", (e) => { if (window.holdRoute) e.stopImmediatePropagation(); });`
	if _, err := chromedp.Call(tb.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: hooks}); err != nil {
		t.Fatal(err)
	}
	tb.open(fmt.Sprintf("%s/ui/#/graph/%d", url, sum))
	tb.waitFor("the graph of the sum, Changes cuttable", `window.changesCut !== undefined && `+graphNode(sum)+` !== null && `+graphNode(a)+` !== null`)
	tb.eval(`window.holdRoute = true; true`)
	tb.eval(graphNode(a) + ".focus(); true")
	tb.do(chromedp.KeyEvent("\r"))
	tb.waitFor("the address Enter asked for", fmt.Sprintf(`location.hash.startsWith("#/graph/%d?")`, a))
	tb.eval(`window.refuse = true; window.changesCut.abort(); true`)
	tb.waitFor("the refused token in the banner, the view blanked", `!`+jsQuery("error")+`.hidden && `+jsQuery("error")+`.textContent.includes("enter a token") && `+graphNode(a)+` === null`)
	tb.eval(`window.holdRoute = false; window.refuse = false; true`)
	tb.route("#/pages")
	tb.eval(fmt.Sprintf(`%s.value = "another"; %s.requestSubmit(); true`, jsQuery("token-input"), jsQuery("token-form")))
	tb.waitFor("the pages view after the new token", `document.querySelector("#view").dataset.view === "pages" && `+jsQuery("error")+`.hidden`)
	tb.route(fmt.Sprintf("#/graph/%d?depth=2", a))
	tb.waitFor(fmt.Sprintf("the graph centred on page %d", a), graphNode(a)+` !== null && `+graphNode(a)+`.classList.contains("root")`)
	focused := `document.activeElement ? (document.activeElement.dataset.testid || document.activeElement.tagName) : ""`
	if got := evalTo[string](tb, focused); got == "graph-node" {
		tb.fail("the graph of page %d opened after a new token put the focus on its node (asked by an Enter whose route the refused token blanked)", a)
	}
	tb.checkConsole(t, "graph focus past a refusal", "401", "bad token")
}
