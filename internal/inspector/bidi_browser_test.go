package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// xOf is a JavaScript function: the left edge on screen of the first
// occurrence of a text in an element's text, wherever the element's
// children split it.
const xOf = `((el, needle) => {
  const w = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let n; (n = w.nextNode());) {
    const i = n.data.indexOf(needle);
    if (i < 0) continue;
    const r = document.createRange();
    r.setStart(n, i);
    r.setEnd(n, i + needle.length);
    return r.getBoundingClientRect().left;
  }
  return NaN;
})`

// TestInspectorWritersBidiStaysInItsField: in Chromium, strings a writer
// chose that hold a right-to-left override (U+202E) change the drawing of
// nothing after them on the page view's lines: the derived page's parents
// after its mmsb.type still read left to right, and a provenance step's
// intent is still drawn after the word "intent", not backwards. Each such
// string ran on to the end of its line: "type f64<U+202E> · derived: f64.sum(1,
// 2)" showed its parent links in reverse order, and "source feed<U+202E> ·
// intent hello" the intent as "olleh" before "tnetni".
func TestInspectorWritersBidiStaysInItsField(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8, Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f64\u202e")}}}})
	if err != nil {
		t.Fatal(err)
	}
	a, b, derived := ids[0], ids[1], ids[2]
	if err := bus.Bind(ctx, derived, "f64.sum", nil, []mmsb.PageID{a, b}); err != nil {
		t.Fatal(err)
	}
	d := mmsb.Write(a, 0, []byte{1, 2})
	d.Source = "feed\u202e"
	d.Intent = []byte("hello")
	if _, err := bus.Commit(ctx, []mmsb.Delta{d}); err != nil {
		t.Fatal(err)
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, fmt.Sprintf("%s/ui/#/page/%d", url, derived))
	meta := jsQuery("page-meta")
	tb.waitFor("the derived page's type and two parent links", meta+`.querySelectorAll("a").length === 2 && `+
		meta+`.textContent.includes("type f64\u202e · derived: f64.sum(")`)
	if !evalTo[bool](tb, fmt.Sprintf(`(() => { const l = %s.querySelectorAll("a"); return l[0].getBoundingClientRect().left < l[1].getBoundingClientRect().left; })()`, meta)) {
		tb.fail("after a type holding U+202E, the parent links %d, %d are drawn right to left", a, b)
	}
	tb.screenshot("bidi-page-meta")
	tb.route(fmt.Sprintf("#/page/%d?lo=0&hi=1", a))
	step := jsQuery("prov-step")
	tb.waitFor("the provenance step of the write", step+` !== null && `+step+`.textContent.includes("hello")`)
	if !evalTo[bool](tb, fmt.Sprintf(`%s(%s, "intent ") < %s(%s, "hello")`, xOf, step, xOf, step)) {
		tb.fail("after a source holding U+202E, the step's intent is drawn before the word \"intent\" (right to left)")
	}
	tb.screenshot("bidi-provenance")
	tb.checkConsole(t, "bidi")
}

// TestInspectorEventsBidiStaysInItsField: in Chromium, the events view's
// line for a delta rejected at a tick, whose source (the event's name)
// holds U+202E, draws the error after it left to right: "mmsb" before "not
// found". The override ran on over the error, drawn backwards.
func TestInspectorEventsBidiStaysInItsField(t *testing.T) {
	ctx := context.Background()
	bus, _, orch := demoBusWithTicks(t)
	_, _, url := serveInspector(t, inspector.Options{Bus: bus, Ticks: orch})
	tb := openTab(t, url+"/ui/#/events")
	tb.waitFor("the events view", jsQuery("events-info")+` !== null`)
	bad := mmsb.Write(999999, 0, []byte{1}) // no such page: rejected at the tick
	bad.Source = "feed\u202e"
	if err := orch.Submit(ctx, &bad); err != nil {
		t.Fatal(err)
	}
	if _, err := orch.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	what := `document.querySelector(".ev-rejected td:last-child")`
	tb.waitFor("the rejected delta's line", what+` !== null && `+what+`.textContent.includes("not found")`)
	if !evalTo[bool](tb, fmt.Sprintf(`%s(%s, "mmsb") < %s(%s, "not found")`, xOf, what, xOf, what)) {
		tb.fail("after a source holding U+202E, the rejection's error %q is drawn right to left", evalTo[string](tb, what+".textContent"))
	}
	tb.screenshot("bidi-events")
	tb.checkConsole(t, "bidi events")
}
