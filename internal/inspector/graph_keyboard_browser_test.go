package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorGraphByKeyboard: in Chromium, the graph view's nodes are
// tab stops: Tab from the Show button reaches the centre's node, then its
// parents'; Enter on a parent's node centres the graph on it with the
// focus on its node (drawn anew), and Shift+Enter there opens its page,
// as a click and a double-click do. The nodes were SVG groups with only
// mouse handlers: the keyboard could not reach one.
func TestInspectorGraphByKeyboard(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	ids := createSmallPages(t, bus, 3)
	a, b, sum := ids[0], ids[1], ids[2]
	if err := bus.Bind(ctx, sum, "f64.sum", nil, []mmsb.PageID{a, b}); err != nil {
		t.Fatal(err)
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, fmt.Sprintf("%s/ui/#/graph/%d", url, sum))
	node := func(id mmsb.PageID) string {
		return fmt.Sprintf(`document.querySelector('[data-testid="graph-node"][data-id="%d"]')`, id)
	}
	focusedNode := `(document.activeElement && document.activeElement.dataset.testid === "graph-node" ? document.activeElement.dataset.id : "")`
	tb.waitFor("the graph of the sum and its two parents", node(sum)+` !== null && `+node(a)+` !== null && `+node(b)+` !== null`)
	tb.eval(jsQuery("graph-go") + ".focus(); true")
	tb.do(chromedp.KeyEvent("\t"))
	if got := evalTo[string](tb, focusedNode); got != fmt.Sprint(sum) {
		tb.fail("Tab from Show focused node %q (%s), want the centre's node %d", got, evalTo[string](tb, `document.activeElement.outerHTML.slice(0, 80)`), sum)
	}
	tb.do(chromedp.KeyEvent("\t"))
	if got := evalTo[string](tb, focusedNode); got != fmt.Sprint(a) {
		tb.fail("a second Tab focused node %q, want page %d's", got, a)
	}
	tb.screenshot("graph-keyboard-focus")
	tb.do(chromedp.KeyEvent("\r"))
	tb.waitFor(fmt.Sprintf("the graph centred on page %d, the focus on its node", a),
		fmt.Sprintf(`location.hash.startsWith("#/graph/%d?") && `, a)+node(a)+` !== null && `+node(a)+`.classList.contains("root") && `+focusedNode+` === "`+fmt.Sprint(a)+`"`)
	tb.screenshot("graph-keyboard-centred")
	tb.do(chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierShift)))
	tb.waitFor(fmt.Sprintf("page %d opened by Shift+Enter", a), fmt.Sprintf(`location.hash === "#/page/%d"`, a))
	tb.checkConsole(t, "graph by keyboard")
}
