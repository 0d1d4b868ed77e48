package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorPagingButtonsOnOnePage: in Chromium, the pages view's
// paging buttons are enabled only where they lead to other rows: on the
// first of two pages of rows "first" and "◀" are disabled, on the last
// "▶" and "last" (the "▶" pressed from the keyboard handing its focus to
// "◀"), and all four on a listing of one page; the search box and its
// button do not overlap and stand apart. All four stayed enabled on a
// one-page listing, doing nothing, and the box touched the button.
func TestInspectorPagingButtonsOnOnePage(t *testing.T) {
	bus := memBus(t)
	ids := createSmallPages(t, bus, 60)
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, url+"/ui/#/pages")
	info := jsQuery("page-info") + ".textContent"
	disabled := func(want map[string]bool) {
		t.Helper()
		for _, id := range []string{"page-first", "page-prev", "page-next", "page-last"} {
			if got := evalTo[bool](tb, jsQuery(id)+".disabled"); got != want[id] {
				tb.fail("%s (%s): disabled %v, want %v", id, evalTo[string](tb, info), got, want[id])
			}
		}
	}
	tb.waitFor("the first 50 rows", info+` === "1–50 of 60 pages"`)
	disabled(map[string]bool{"page-first": true, "page-prev": true})

	tb.eval(jsQuery("page-next") + ".focus(); true")
	tb.do(chromedp.KeyEvent("\r"))
	tb.waitFor("the last 10 rows", info+` === "51–60 of 60 pages"`)
	disabled(map[string]bool{"page-next": true, "page-last": true})
	if got := evalTo[string](tb, `document.activeElement.dataset.testid || document.activeElement.tagName`); got != "page-prev" {
		tb.fail("after Enter on ▶ reached the last rows the focus is on %q, want page-prev (▶ is disabled)", got)
	}

	tb.eval(fmt.Sprintf(`%s.value = "%d-%d"; %s.closest("form").requestSubmit(); true`, jsQuery("page-search"), ids[0], ids[2], jsQuery("page-search")))
	tb.waitFor("the three rows of the search", info+` === "1–3 of 3 pages"`)
	disabled(map[string]bool{"page-first": true, "page-prev": true, "page-next": true, "page-last": true})

	type rect struct {
		Left   float64 `json:"left"`
		Right  float64 `json:"right"`
		Top    float64 `json:"top"`
		Bottom float64 `json:"bottom"`
	}
	box := evalTo[rect](tb, jsQuery("page-search")+".getBoundingClientRect().toJSON()")
	button := evalTo[rect](tb, jsQuery("page-search-go")+".getBoundingClientRect().toJSON()")
	sameLine := box.Top < button.Bottom && button.Top < box.Bottom
	if sameLine && button.Left < box.Right+4 {
		tb.fail("the search box (x %.1f–%.1f) and its button (x %.1f–%.1f) on one line are %.1f px apart, want 4 px or more", box.Left, box.Right, button.Left, button.Right, button.Left-box.Right)
	}
	tb.screenshot("pages-one-page")
	tb.checkConsole(t, "pages paging")
}

// TestInspectorPagingFollowsNewPages: in Chromium, on the last rows of
// the pages view (▶ and "last" disabled), pages created elsewhere make
// ▶ and "last" enabled again at the view's next refresh, the focus
// staying where it was; every enabled paging button is drawn at a
// contrast of at least 4.5:1.
func TestInspectorPagingFollowsNewPages(t *testing.T) {
	bus := memBus(t)
	createSmallPages(t, bus, 60)
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, url+"/ui/#/pages")
	info := jsQuery("page-info") + ".textContent"
	tb.waitFor("the first 50 rows", info+` === "1–50 of 60 pages"`)
	tb.eval(jsQuery("page-last") + ".click(); true")
	tb.waitFor("the last 10 rows", info+` === "51–60 of 60 pages"`)
	tb.eval(jsQuery("page-prev") + ".focus(); true")
	createSmallPages(t, bus, 50)
	tb.waitFor("the rows of the 110 pages", info+` === "51–100 of 110 pages"`)
	for _, id := range []string{"page-first", "page-prev", "page-next", "page-last"} {
		if evalTo[bool](tb, jsQuery(id)+".disabled") {
			tb.fail("%s is disabled on rows 51–100 of 110 pages", id)
			continue
		}
		if ratio := evalTo[float64](tb, fmt.Sprintf(contrastJS, jsQuery(id))); ratio < 4.5 {
			tb.fail("%s, enabled, is drawn at a contrast of %.2f:1, want at least 4.5:1", id, ratio)
		}
	}
	if got := evalTo[string](tb, `document.activeElement.dataset.testid || document.activeElement.tagName`); got != "page-prev" {
		tb.fail("after the refresh the focus is on %q, want page-prev, where it was", got)
	}
	tb.screenshot("pages-grown")
	tb.checkConsole(t, "pages paging")
}

// TestInspectorPagingAfterPagesFreed: in Chromium, on the last rows of
// the pages view, pages freed elsewhere so that no row is left from its
// offset move the view to the rows that are now the last ("1–40 of 40
// pages"), the paging buttons all disabled and the focus, on ◀, handed to
// the search box. The view showed no rows and "0–50 of 40 pages", with ◀
// and "first" enabled.
func TestInspectorPagingAfterPagesFreed(t *testing.T) {
	bus := memBus(t)
	ids := createSmallPages(t, bus, 60)
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, url+"/ui/#/pages")
	info := jsQuery("page-info") + ".textContent"
	tb.waitFor("the first 50 rows", info+` === "1–50 of 60 pages"`)
	tb.eval(jsQuery("page-last") + ".click(); true")
	tb.waitFor("the last 10 rows", info+` === "51–60 of 60 pages"`)
	tb.eval(jsQuery("page-prev") + ".focus(); true")
	for _, id := range ids[40:] {
		if err := bus.FreePage(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	tb.waitFor("the rows of the 40 pages left", info+` === "1–40 of 40 pages"`)
	disabled := map[string]bool{"page-first": true, "page-prev": true, "page-next": true, "page-last": true}
	for id, want := range disabled {
		if got := evalTo[bool](tb, jsQuery(id)+".disabled"); got != want {
			tb.fail("%s: disabled %v, want %v", id, got, want)
		}
	}
	if got := evalTo[string](tb, `document.activeElement.dataset.testid || document.activeElement.tagName`); got != "page-search" {
		tb.fail("after ◀, focused, was disabled the focus is on %q, want page-search", got)
	}
	tb.screenshot("pages-freed")
	tb.checkConsole(t, "pages paging")
}
