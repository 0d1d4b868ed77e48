package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestInspectorPageViewFollowsTheBus: in Chromium, the page view's as-of
// range follows the committed LSN while other pages are written (the
// slider's end and the banner's "log holds LSN 1–N"), and an LSN being
// typed in the as-of field survives a refresh of the page. Before, both
// were set at each load of the page only: the range ended at the LSN of
// the last write of this page, however far the bus had moved, and a
// refresh (every 100 ms on a page each tick writes) emptied the field
// under the typing.
func TestInspectorPageViewFollowsTheBus(t *testing.T) {
	bus, l, _, url := serviceFixture(t)
	ctx := context.Background()
	page, other := l.Sensors[0], l.Sensors[1]
	tb := openTab(t, fmt.Sprintf("%s/ui/#/page/%d", url, page))
	tb.waitFor("the page's bytes", jsCount(testid("byte"))+` === 64`)
	for i := range 3 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(other, 0, f64(float64(i)))}); err != nil {
			t.Fatal(err)
		}
	}
	last := uint64(bus.LastLSN())
	tb.waitFor("the header at the bus's LSN", fmt.Sprintf(`%s.textContent === "LSN %d"`, jsQuery("committed-lsn"), last))
	tb.waitFor("the as-of range up to it", fmt.Sprintf(`%s.max === "%d" && %s.value === "%d" && %s.textContent.includes((%d).toLocaleString("en-US") + ")")`,
		jsQuery("asof-slider"), last, jsQuery("asof-slider"), last, jsQuery("asof-banner"), last))

	// An LSN typed (not yet entered) while the page is written.
	tb.eval(fmt.Sprintf(`%s.focus(); %s.value = "3"; document.activeElement === %s`, jsQuery("asof-lsn"), jsQuery("asof-lsn"), jsQuery("asof-lsn")))
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(page, 0, []byte{0xab})}); err != nil {
		t.Fatal(err)
	}
	tb.waitFor("the page's new byte", `document.querySelector('[data-testid="byte"][data-off="0"]').textContent === "ab"`)
	if v := evalTo[string](tb, jsQuery("asof-lsn")+`.value`); v != "3" {
		tb.fail("the as-of field holds %q after a refresh of the page, want the 3 being typed", v)
	}
	tb.checkConsole(t, "page")
}

// TestInspectorAsOfProvenanceSaysNow: in Chromium, bytes selected in a
// view of the page as of an LSN get the provenance of the bytes the page
// holds now (the bus traces no other), and the panel's title says so;
// "now" drops the note. Before, the title read "provenance of bytes
// [0, 8) of page N" under the old bytes, as if the chain were theirs.
func TestInspectorAsOfProvenanceSaysNow(t *testing.T) {
	bus, l, _, url := serviceFixture(t)
	zone := l.Zones[0]
	at := uint64(bus.LastLSN())
	tb := openTab(t, fmt.Sprintf("%s/ui/#/page/%d?lsn=%d&lo=0&hi=8", url, zone, at))
	title := jsQuery("provenance-title") + ".textContent"
	tb.waitFor("the provenance of the selection, marked as of now", fmt.Sprintf(`%s.includes("as they are now, not as of LSN " + (%d).toLocaleString("en-US")) && %s > 0`,
		title, at, jsCount(testid("prov-step"))))
	tb.eval(jsQuery("asof-now") + ".click(); true")
	tb.waitFor("the provenance without the note", fmt.Sprintf(`%s === "provenance of bytes [0, 8) of page %d" && %s > 0`, title, zone, jsCount(testid("prov-step"))))
	tb.checkConsole(t, "page")
}

// TestInspectorAsOfBeforeThePageKeepsTheLSN: in Chromium, a page viewed
// as of an LSN before it was created says it did not exist then, and the
// as-of field and banner keep that LSN; "now" shows the page. Before,
// the field was empty, as if the view were of the current page.
func TestInspectorAsOfBeforeThePageKeepsTheLSN(t *testing.T) {
	bus, _, _, url := serviceFixture(t)
	ctx := context.Background()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	tb := openTab(t, fmt.Sprintf("%s/ui/#/page/%d?lsn=5", url, ids[0]))
	tb.waitFor("the page not there at LSN 5, with the LSN kept", fmt.Sprintf(`%s.textContent.startsWith("page %d did not exist at LSN 5") && %s.value === "5" && %s.textContent === "as of LSN 5"`,
		jsQuery("page-gone"), ids[0], jsQuery("asof-lsn"), jsQuery("asof-banner")))
	tb.eval(jsQuery("asof-now") + ".click(); true")
	tb.waitFor("the page now", jsCount(testid("byte"))+` === 8 && `+jsQuery("asof-lsn")+`.value === ""`)
	tb.checkConsole(t, "page", "404")
}
