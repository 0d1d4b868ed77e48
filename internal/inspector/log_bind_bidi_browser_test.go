package inspector_test

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorLogBindBidi: in Chromium, the log view's line for the Bind
// of a page to a function whose name holds a right-to-left override
// (U+202E) draws the parents after the name left to right: "1" before
// "2" for a binding over pages 1 and 2. The line is one string of the
// server's, "name(1, 2)", and the override ran on over the parents.
func TestInspectorLogBindBidi(t *testing.T) {
	bus, ids := busWithFunc(t, "\u202etest.rev")
	a, b, sum := ids[0], ids[1], ids[2]
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, fmt.Sprintf("%s/ui/#/log?page=%d", url, sum))
	detail := `[...document.querySelectorAll("#view td")].find((td) => td.textContent.includes("test.rev"))`
	tb.waitFor("the Bind's line", detail+` !== undefined`)
	if !evalTo[bool](tb, fmt.Sprintf(`%s(%s, "%d") < %s(%s, "%d")`, xOf, detail, a, xOf, detail, b)) {
		tb.fail("after a function name holding U+202E, the Bind's parents %d, %d are drawn right to left (%q)", a, b, evalTo[string](tb, detail+".textContent"))
	}
	tb.screenshot("bidi-log-bind")
	tb.checkConsole(t, "bidi log bind")
}
