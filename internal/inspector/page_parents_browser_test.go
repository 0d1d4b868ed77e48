package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorPageSaysParentsLeftOut: in Chromium, the page view of a
// page derived from 1,500 pages links the 1,000 parents the server lists
// and says how many it left out ("… 500 more"); a page derived from three
// lists them all and says nothing more.
func TestInspectorPageSaysParentsLeftOut(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 1500
	ids := createSmallPages(t, bus, n+2)
	wide, narrow := ids[n], ids[n+1]
	if err := bus.Bind(ctx, wide, "f64.sum", nil, ids[:n]); err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, narrow, "f64.sum", nil, ids[:3]); err != nil {
		t.Fatal(err)
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, fmt.Sprintf("%s/ui/#/page/%d", url, wide))
	meta := jsQuery("page-meta")
	tb.waitFor("1,000 parent links and the 500 left out", meta+`.querySelectorAll("a").length === 1000 && `+
		meta+`.textContent.includes(", … 500 more)")`)
	tb.screenshot("page-parents-cut")
	tb.route(fmt.Sprintf("#/page/%d", narrow))
	tb.waitFor("three parent links, none left out", meta+`.querySelectorAll("a").length === 3 && `+
		meta+`.textContent.includes("derived: f64.sum(") && !`+meta+`.textContent.includes("more")`)
	tb.checkConsole(t, "page parents")
}
