package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorPageParentsByKeyboardAndAsOf: in Chromium, the page view
// of a page derived from 30 pages can be worked from the keyboard: "… and
// 10 more" and the parent links are tab stops (anchors with only an
// onclick were none), Enter on "… and 10 more" opens the list and puts
// the focus on "fewer", which keeps it when the page is recomputed (the
// page line is drawn anew at each reload), and Enter on "fewer" closes
// the list with the focus back on "… and 10 more". Viewed as of an LSN
// before the page was bound, the page line says the binding it shows is
// the one now (it named today's function and parents as that LSN's). The
// view's links made with an onclick (its "log") take the focus, and
// Enter follows them.
func TestInspectorPageParentsByKeyboardAndAsOf(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 30
	ids := createSmallPages(t, bus, n+1)
	wide := ids[n]
	unbound := bus.LastLSN()
	if err := bus.Bind(ctx, wide, "f64.sum", nil, ids[:n]); err != nil {
		t.Fatal(err)
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, fmt.Sprintf("%s/ui/#/page/%d", url, wide))
	meta, more := jsQuery("page-meta"), jsQuery("parents-more")
	focused := func(testid string) string {
		return fmt.Sprintf(`document.activeElement && document.activeElement.dataset.testid === %q`, testid)
	}
	tb.waitFor("20 parent links and the 10 more", more+` !== null && `+meta+`.textContent.includes("derived: f64.sum(1, 2, ")`)
	for _, el := range []string{more, meta + `.querySelector("a")`} {
		if !evalTo[bool](tb, `(() => { const a = `+el+`; a.focus(); return document.activeElement === a; })()`) {
			tb.fail("%s (%q) takes no focus: the keyboard cannot reach it", el, evalTo[string](tb, el+".textContent"))
		}
	}
	tb.eval(more + ".focus(); true")
	tb.do(chromedp.KeyEvent("\r"))
	tb.waitFor("the list of 30 parents, the focus on fewer", jsQuery("parents-list")+`.querySelectorAll("a").length === 30 && `+focused("parents-fewer"))
	// Recomputed: the page line is drawn again, the focus stays.
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, f64(1))}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	tb.waitFor("the recomputed page, epoch 1", meta+`.textContent.includes("epoch 1 ")`)
	if !evalTo[bool](tb, focused("parents-fewer")) {
		tb.fail("after the page was recomputed the focus is on %q, not on fewer", evalTo[string](tb, `document.activeElement.outerHTML.slice(0, 80)`))
	}
	tb.do(chromedp.KeyEvent("\r"))
	tb.waitFor("the list closed, the focus on … and 10 more", jsQuery("parents-list")+` === null && `+focused("parents-more"))
	tb.screenshot("page-parents-keyboard")
	// As of an LSN before the Bind: the line names the binding as now's.
	tb.route(fmt.Sprintf("#/page/%d?lsn=%d", wide, unbound))
	tb.waitFor("the page as of LSN "+fmt.Sprint(unbound)+", its binding named as now's",
		jsQuery("asof-banner")+`.textContent.includes("as of LSN") && `+
			meta+`.textContent.includes("derived now (the binding is not read as of the LSN): f64.sum(1, 2, ")`)
	tb.screenshot("page-parents-asof")
	// The view's other links, made with an onclick, are tab stops too:
	// Enter on "log" opens the page's log.
	logLink := `[...document.querySelectorAll("#view a")].find((a) => a.textContent === "log")`
	if !evalTo[bool](tb, `(() => { const a = `+logLink+`; a.focus(); return document.activeElement === a; })()`) {
		tb.fail("the page view's log link takes no focus: the keyboard cannot reach it")
	}
	tb.do(chromedp.KeyEvent("\r"))
	tb.waitFor("the page's log, opened by Enter", fmt.Sprintf(`location.hash === "#/log?page=%d"`, wide))
	tb.checkConsole(t, "page parents by keyboard")
}
