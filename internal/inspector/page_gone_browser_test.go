package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorPageGoneHidesByteViews: in Chromium, the view of a page
// freed under it says the page does not exist and hides what only a page
// has: the byte tools (◀ bytes, bytes ▶, go to byte), the hex view, the
// provenance panel and the last writes; a view of a page as of an LSN
// before it was created hides them too, and shows them again once "now"
// is clicked. They stayed: an empty hex box beside
// "Select bytes in the hex view … to see their provenance", for bytes
// there were none of.
func TestInspectorPageGoneHidesByteViews(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	id := createSmallPages(t, bus, 1)[0]
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("s"))}); err != nil {
		t.Fatal(err)
	}
	later := createSmallPages(t, bus, 1)[0]
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, fmt.Sprintf("%s/ui/#/page/%d", url, id))
	shown := func(name string) string { return jsQuery(name) + `.offsetParent !== null` }
	views := []string{"window-prev", "window-goto", "hex", "provenance", "recent"}
	all := func(vis bool) string {
		expr := "true"
		for _, v := range views {
			if vis {
				expr += " && " + shown(v)
			} else {
				expr += " && !(" + shown(v) + ")"
			}
		}
		return expr
	}
	tb.waitFor("the page's bytes and views", jsCount(testid("byte"))+` === 8 && `+all(true))
	if err := bus.FreePage(ctx, id); err != nil {
		t.Fatal(err)
	}
	tb.waitFor("the page gone", jsQuery("page-gone")+` !== null && `+jsQuery("page-gone")+`.textContent.includes("does not exist")`)
	for _, v := range views {
		if evalTo[bool](tb, shown(v)) {
			tb.fail("page %d freed: %q is still shown", id, v)
		}
	}
	tb.screenshot("page-gone-hidden")
	// A view that comes back: page later as of LSN 1, before it was
	// created, then now.
	tb.route(fmt.Sprintf("#/page/%d?lsn=1", later))
	tb.waitFor("page later gone as of LSN 1", jsQuery("page-gone")+` !== null && !(`+shown("hex")+`)`)
	tb.eval(jsQuery("asof-now") + ".click(); true")
	tb.waitFor("page later now", jsCount(testid("byte"))+` === 8`)
	for _, v := range views {
		if !evalTo[bool](tb, shown(v)) {
			tb.fail("page %d now, after a view as of an LSN before it: %q is not shown", later, v)
		}
	}
	tb.checkConsole(t, "page gone", "status of 404")
}
