package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// contrastJS computes, in the page, the WCAG contrast ratio of the text
// of the element el (a JS expression) against its background, both
// opaque rgb() colours as getComputedStyle answers them.
const contrastJS = `((el) => {
  const lum = (c) => {
    const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const s = getComputedStyle(el);
  const a = lum(s.color), b = lum(s.backgroundColor);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
})(%s)`

// TestInspectorHexHighlightContrast: in Chromium, the bytes of a page's
// last 4 writes, highlighted in the hex view (newest darkest), are each
// drawn with a contrast of at least 4.5:1 against their highlight (WCAG
// AA for text of 12px). The newest write's bytes were white on orange
// (#f97316), 2.8:1, the hardest to read of the view though they are what
// a user looks at first.
func TestInspectorHexHighlightContrast(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	id := createSmallPages(t, bus, 1)[0]
	for i := range 4 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, uint32(i), []byte{0x11 * byte(i+1)})}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, fmt.Sprintf("%s/ui/#/page/%d", url, id))
	tb.waitFor("the 4 writes highlighted", `[0, 1, 2, 3].every((k) => document.querySelector(".hex .changed-" + k) !== null)`)
	for k := range 4 {
		el := fmt.Sprintf(`document.querySelector(".hex .changed-%d")`, k)
		if ratio := evalTo[float64](tb, fmt.Sprintf(contrastJS, el)); ratio < 4.5 {
			tb.fail("the bytes of the write %d back from the newest (.changed-%d) are drawn at a contrast of %.2f:1 against their highlight, want at least 4.5:1", k, k, ratio)
		}
	}
	tb.screenshot("hex-highlight-contrast")
	tb.checkConsole(t, "hex highlight contrast")
}
