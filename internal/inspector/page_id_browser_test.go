package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorLargePageIDs: in Chromium, pages 2^53 and 2^53+1 (IDs a
// client may choose: they reach 2^64-1), each with its own first byte,
// joined by an edge: the pages view lists both IDs exactly, the second's
// link opens the second page (its ID, its byte), and the graph of it
// shows both nodes and the edge by their exact IDs. Before, the UI read
// IDs as JavaScript Numbers, exact only up to 2^53: both rows read
// 9007199254740992, and the second's link opened the first page.
func TestInspectorLargePageIDs(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const first, second = mmsb.PageID(1 << 53), mmsb.PageID(1<<53 + 1)
	if _, err := bus.CreatePages(ctx, []mmsb.PageSpec{{ID: first, Size: 16}, {ID: second, Size: 16}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(first, 0, []byte{0x11}), mmsb.Write(second, 0, []byte{0x22})}); err != nil {
		t.Fatal(err)
	}
	if err := bus.AddEdge(ctx, first, second, mmsb.EdgeData); err != nil {
		t.Fatal(err)
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, url+"/ui/#/pages")
	rowIDs := `[...document.querySelectorAll('[data-testid="page-row"]')].map((r) => r.dataset.id).join(" ")`
	tb.waitFor("both rows by their exact IDs", rowIDs+` === "9007199254740992 9007199254740993"`)
	tb.eval(`document.querySelectorAll('[data-testid="page-link"]')[1].click(); true`)
	tb.waitFor("the second page opened", jsQuery("page-title")+`.textContent === "Page 9007199254740993" && `+
		`document.querySelector('[data-testid="byte"][data-off="0"]').textContent === "22"`)
	tb.screenshot("large-page-id")

	tb.route("#/graph/9007199254740993")
	nodes := `[...document.querySelectorAll('[data-testid="graph-node"]')].map((n) => n.dataset.id).sort().join(" ")`
	edge := `[...document.querySelectorAll('[data-testid="graph-edge"]')].map((e) => e.dataset.parent + ">" + e.dataset.child).join(" ")`
	tb.waitFor("the graph by exact IDs", nodes+` === "9007199254740992 9007199254740993" && `+edge+` === "9007199254740992>9007199254740993"`)
	tb.checkConsole(t, "large page IDs")
}

// TestInspectorAddressWithNoPageID: in Chromium, a page or graph address
// whose ID is no page ID (text, negative, 0, 2^64) says so. Before, the
// page view read it as page 0 ("page 0 does not exist (freed, or never
// created)"), and the graph view drew the first derived page's graph
// under it, as if it had been asked for.
func TestInspectorAddressWithNoPageID(t *testing.T) {
	_, _, _, url := serviceFixture(t)
	tb := openTab(t, url+"/ui/#/pages")
	tb.waitFor("the pages", jsCount(testid("page-row"))+" > 0")
	for _, bad := range []string{"abc", "-1", "0", "18446744073709551616"} {
		tb.route("#/page/" + bad)
		tb.waitFor("the page view saying "+bad+" is no page ID", fmt.Sprintf(`%s.textContent === %q`, jsQuery("page-gone"),
			fmt.Sprintf("%q is not a page ID (a decimal number from 1 to 18446744073709551615)", bad)))
		tb.route("#/graph/" + bad)
		tb.waitFor("the graph view saying "+bad+" is no page ID", fmt.Sprintf(`%s.textContent.startsWith(%q) && %s === 0`, jsQuery("graph-info"),
			fmt.Sprintf("%q is not a page ID", bad), jsCount(testid("graph-node"))))
	}
	// The largest ID is one (no such page here): the page view asks the server.
	tb.route("#/page/18446744073709551615")
	tb.waitFor("the largest ID asked for", jsQuery("page-gone")+`.textContent.startsWith("page 18446744073709551615 does not exist")`)
	tb.checkConsole(t, "page", "404")
}
