package inspector_test

import (
	"context"
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
	tb := newBrowser(t).newTab(t)

	tb.open(url + "/ui/#/pages")
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
