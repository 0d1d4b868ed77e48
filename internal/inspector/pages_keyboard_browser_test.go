package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorPagesSortByKeyboard: in Chromium, the pages table's size
// column sorts from the keyboard (its header's button focused, Enter),
// its header cell then says ascending (aria-sort), and the focus stays
// on that button in the table drawn anew; a page link focused in the
// table keeps the focus when a write to the bus redraws the table. The
// headers took clicks only, and each redraw dropped the focus to the
// page's body.
func TestInspectorPagesSortByKeyboard(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	specs := []mmsb.PageSpec{{Size: 64}, {Size: 8}, {Size: 32}}
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, url+"/ui/#/pages")
	tb.waitFor("the three rows", jsCount(testid("page-row"))+" === 3")
	sizeButton := jsQuery("col-size") + `.querySelector("button")`
	if !evalTo[bool](tb, sizeButton+" !== null") {
		tb.fail("the size column's header has no button: it cannot be reached from the keyboard")
	}
	tb.eval(sizeButton + ".focus(); true")
	tb.do(chromedp.KeyEvent("\r"))
	first := `document.querySelector('[data-testid="page-row"]').dataset.id`
	tb.waitFor("the rows sorted by size", fmt.Sprintf(`%s === "%d"`, first, ids[1]))
	if got := evalTo[string](tb, jsQuery("col-size")+`.getAttribute("aria-sort") || ""`); got != "ascending" {
		tb.fail("the size column sorted ascending says aria-sort %q, want ascending", got)
	}
	focused := `(() => { const a = document.activeElement; const th = a && a.closest("th"); const tr = a && a.closest("tr[data-id]"); return th ? th.dataset.testid : tr ? "row " + tr.dataset.id + " " + a.tagName : a ? a.tagName : ""; })()`
	if got := evalTo[string](tb, focused); got != "col-size" {
		tb.fail("after Enter on the size column's button the focus is on %q, want the button (col-size)", got)
	}

	// A row's page link keeps the focus when a write redraws the table.
	link := fmt.Sprintf(`document.querySelector('[data-testid="page-row"][data-id="%d"] a')`, ids[2])
	tb.eval(link + ".focus(); true")
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[2], 0, []byte{1})}); err != nil {
		t.Fatal(err)
	}
	epoch := fmt.Sprintf(`document.querySelector('[data-testid="page-row"][data-id="%d"] td[data-col="epoch"]').textContent`, ids[2])
	tb.waitFor("the table redrawn with the write", epoch+` === "1"`)
	if got, want := evalTo[string](tb, focused), fmt.Sprintf("row %d A", ids[2]); got != want {
		tb.fail("after the table was redrawn the focus is on %q, want the link of page %d (%s)", got, ids[2], want)
	}
	tb.screenshot("pages-keyboard")
	tb.checkConsole(t, "pages keyboard")
}
