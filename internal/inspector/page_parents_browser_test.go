package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorPageSaysParentsLeftOut: in Chromium, the page view of a
// page derived from 1,500 pages links the first 20 parents and says how
// many more there are ("… and 1,480 more"), with the hex view on the
// first screen; asked for them, it lists the 1,000 parents the server
// answers with in a box that keeps the hex view on the first screen (and
// its scroll when the page is recomputed), and
// pages to the 500 left out (parents_offset) and back; bound again to
// fewer parents than the list had paged past, it lists them from the
// first. A page derived from
// three lists them all and says nothing more. The page line listed every
// parent the server answered with, 1,000 links above the hex view.
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
	meta, list, rng := jsQuery("page-meta"), jsQuery("parents-list"), jsQuery("parents-range")
	// The hex view starts in the window's upper half: under 1,000 links
	// it started at the window's foot.
	hexShown := jsQuery("hex") + `.getBoundingClientRect().top < window.innerHeight / 2`
	tb.waitFor("the page's bytes and parents", jsQuery("byte")+` !== null && `+meta+`.querySelector("a") !== null`)
	if !evalTo[bool](tb, hexShown) {
		tb.fail("the hex view of a page derived from %d pages starts at y %v, past the upper half of the window", n, evalTo[float64](tb, jsQuery("hex")+".getBoundingClientRect().top"))
	}
	tb.waitFor("20 parent links and the 1,480 more", meta+`.querySelectorAll("a").length === 21 && `+
		meta+`.textContent.includes(", 20, … and 1,480 more)")`)
	tb.screenshot("page-parents-cut")
	tb.eval(jsQuery("parents-more") + ".click()")
	tb.waitFor("the list of the first 1,000 parents", list+`.querySelectorAll("a").length === 1000 && `+
		rng+`.textContent === "parents 1–1,000 of 1,500" && `+list+`.querySelector("a").textContent === "1" && `+
		meta+`.textContent.includes("f64.sum(1,500 parents, listed below")`)
	if !evalTo[bool](tb, hexShown) {
		tb.fail("with the list of parents shown, the hex view starts at y %v, past the upper half of the window", evalTo[float64](tb, jsQuery("hex")+".getBoundingClientRect().top"))
	}
	tb.screenshot("page-parents-list")
	// Recomputed (as each tick may do) while the list is scrolled: the
	// view reloads, and the list stays where it was scrolled to.
	tb.eval(list + ".scrollTop = 40; true")
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, f64(1))}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	tb.waitFor("the recomputed page, epoch 1", meta+`.textContent.includes("epoch 1 ")`)
	if got := evalTo[float64](tb, list+".scrollTop"); got != 40 {
		tb.fail("the list of parents, scrolled to 40 px, is at %v px after the page was recomputed", got)
	}
	tb.eval(jsQuery("parents-next") + ".click()")
	tb.waitFor("the 500 parents left out", list+`.querySelectorAll("a").length === 500 && `+
		rng+`.textContent === "parents 1,001–1,500 of 1,500" && `+jsQuery("parents-next")+`.disabled && `+
		fmt.Sprintf(`%s.querySelector("a").textContent === "%d"`, list, ids[1000]))
	tb.screenshot("page-parents-list-next")
	// Bound again to 600 parents while the list shows parents from 1,001:
	// the server refuses that offset now, and the list starts again from
	// the first parent.
	if err := bus.Unbind(ctx, wide); err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, wide, "f64.sum", nil, ids[:600]); err != nil {
		t.Fatal(err)
	}
	tb.waitFor("the 600 parents of the new binding", list+`.querySelectorAll("a").length === 600 && `+
		rng+`.textContent === "parents 1–600 of 600" && `+jsQuery("parents-next")+`.disabled && `+jsQuery("error")+`.hidden`)
	if err := bus.Unbind(ctx, wide); err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, wide, "f64.sum", nil, ids[:n]); err != nil {
		t.Fatal(err)
	}
	tb.waitFor("the 1,500 parents again", rng+`.textContent === "parents 1–1,000 of 1,500"`)
	tb.eval(jsQuery("parents-next") + ".click()")
	tb.waitFor("the 500 parents left out again", rng+`.textContent === "parents 1,001–1,500 of 1,500"`)
	tb.eval(jsQuery("parents-prev") + ".click()")
	tb.waitFor("the first 1,000 parents again", list+`.querySelectorAll("a").length === 1000 && `+
		rng+`.textContent === "parents 1–1,000 of 1,500" && `+jsQuery("parents-prev")+`.disabled`)
	tb.eval(jsQuery("parents-fewer") + ".click()")
	tb.waitFor("20 parent links again", meta+`.querySelectorAll("a").length === 21 && `+list+` === null`)
	tb.route(fmt.Sprintf("#/page/%d", narrow))
	tb.waitFor("three parent links, none left out", meta+`.querySelectorAll("a").length === 3 && `+
		meta+`.textContent.includes("derived: f64.sum(1, 2, 3)") && !`+meta+`.textContent.includes("more")`)
	tb.checkConsole(t, "page parents", "status of 400")
}
