package inspector_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorShowsWritersStrings: in Chromium, a page whose mmsb.type
// metadata is not valid UTF-8 and holds markup, written by a delta whose
// source is not valid UTF-8 and whose intent is 1 KiB of markup, is
// listed in the pages view and shown in the page view with the bad bytes
// as \xNN and the markup as text (no element made of it), and its
// provenance shows the intent's first 256 bytes marked cut ("…"). Before,
// the pages view showed only "internal: marshal message: … contains
// invalid UTF-8" in the banner, and no rows at all.
func TestInspectorShowsWritersStrings(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64, Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("<b id=x1>f\xff64</b>")}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := ids[0]
	d := mmsb.Write(id, 0, []byte{0xde, 0xad})
	d.Source = "sensor\xfe<img id=x2 src=nothing>"
	d.Intent = bytes.Repeat([]byte("<i id=x3>intent</i>"), 60) // 1,140 bytes
	if _, err := bus.Commit(ctx, []mmsb.Delta{d}); err != nil {
		t.Fatal(err)
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	b := newBrowser(t)
	tb := b.newTab(t)
	noMarkup := "!document.querySelector('#x1, #x2, #x3')"

	tb.open(url + "/ui/#/pages")
	tb.waitFor("the page's row", jsCount(testid("page-row"))+" === 1")
	tb.waitFor("its type shown as text, the bad byte as \\xff",
		jsQuery("page-row")+`.textContent.includes("<b id=x1>f\\xff64</b>") && `+noMarkup)
	if shown := evalTo[bool](tb, jsQuery("error")+".hidden"); !shown {
		tb.fail("the error banner shows: %s", evalTo[string](tb, jsQuery("error")+".textContent"))
	}
	tb.screenshot("writers-strings-pages")

	tb.route(fmt.Sprintf("#/page/%d?lo=0&hi=2", id))
	tb.waitFor("the recent write's source shown as text",
		jsQuery("recent")+`.textContent.includes("sensor\\xfe<img id=x2 src=nothing>") && `+noMarkup)
	cut := string(d.Intent[:256])
	tb.waitFor("the provenance step's intent, cut at 256 bytes and marked",
		jsQuery("prov-step")+".textContent.includes("+fmt.Sprintf("%q", "intent "+cut+" …")+") && "+noMarkup)
	tb.screenshot("writers-strings-page")
	tb.checkConsole(t, "writers' strings")
}
