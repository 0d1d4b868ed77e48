package inspector_test

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorBannerIsTheViewsOwn: in Chromium, the error banner of one
// view (page 999 does not exist) is gone in the next view, here an
// address with no page ID, which asks the server nothing. It stayed over
// the next view until that view's first answer, and for ever over one
// that asks nothing: "not_found: page 999" above "abc is not a page ID".
func TestInspectorBannerIsTheViewsOwn(t *testing.T) {
	bus := memBus(t)
	createSmallPages(t, bus, 1)
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, url+"/ui/#/page/999")
	banner := jsQuery("error")
	tb.waitFor("the banner naming page 999", `!`+banner+`.hidden && `+banner+`.textContent.includes("page 999")`)
	tb.route("#/page/abc")
	tb.waitFor("the page view saying abc is no page ID", jsQuery("page-gone")+`.textContent.startsWith('"abc" is not a page ID')`)
	if !evalTo[bool](tb, banner+`.hidden`) {
		tb.fail("over the view of #/page/abc, the banner still reads %q", evalTo[string](tb, banner+`.textContent`))
	}
	tb.route("#/graph/abc")
	tb.waitFor("the graph view saying abc is no page ID", jsQuery("graph-info")+`.textContent.startsWith('"abc" is not a page ID')`)
	if !evalTo[bool](tb, banner+`.hidden`) {
		tb.fail("over the graph of #/graph/abc, the banner reads %q", evalTo[string](tb, banner+`.textContent`))
	}
	tb.screenshot("banner-route")
	tb.checkConsole(t, "banner", "status of 404")
}
