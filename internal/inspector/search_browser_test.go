package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestInspectorFailedSearchShowsNoRows: in Chromium, a pages search that
// is none of the known forms shows the server's invalid_argument in the
// banner and no rows, the info naming the search that failed; a valid
// search then lists its rows. Before, the table kept the previous
// listing's 50 rows and "1–50 of 310 pages" under the error, as if they
// matched the new search (which the view kept for its next visits too).
func TestInspectorFailedSearchShowsNoRows(t *testing.T) {
	_, l, _, url := serviceFixture(t)
	tb := openTab(t, url+"/ui/#/pages")
	rows := jsCount(testid("page-row"))
	tb.waitFor("the first 50 rows", fmt.Sprintf(`%s === 50 && %s.textContent.includes("of %d pages")`, rows, jsQuery("page-info"), l.Pages()))
	search := func(q string) {
		tb.eval(fmt.Sprintf(`%s.value = %q; %s.closest("form").requestSubmit(); true`, jsQuery("page-search"), q, jsQuery("page-search")))
	}
	search("no-such-thing")
	tb.waitFor("the refused search in the banner", `!`+jsQuery("error")+`.hidden && `+jsQuery("error")+`.textContent.includes("is not a page ID")`)
	tb.waitFor("no rows, and the info naming the failed search", fmt.Sprintf(`%s === 0 && %s.textContent.includes('the search "no-such-thing" failed')`, rows, jsQuery("page-info")))
	tb.screenshot("search-failed")
	search("derived")
	derived := len(l.Zones) + len(l.Regions) + 1
	tb.waitFor("the derived pages", fmt.Sprintf(`%s === %d && %s.textContent.includes("of %d pages") && %s.hidden`, rows, derived, jsQuery("page-info"), derived, jsQuery("error")))
	tb.checkConsole(t, "pages", "400")
}

// TestInspectorPagesTotalFollowsTheBus: in Chromium, the pages view's
// total follows pages created and freed off screen (past its first 50
// rows): "of 311 pages" after one is created, "of 310" once it is freed.
// Before, the view re-read its rows only when one on screen changed, and
// went on saying "of 310 pages".
func TestInspectorPagesTotalFollowsTheBus(t *testing.T) {
	bus, l, _, url := serviceFixture(t)
	ctx := context.Background()
	tb := openTab(t, url+"/ui/#/pages")
	info := jsQuery("page-info") + ".textContent"
	tb.waitFor("the first rows", fmt.Sprintf(`%s === "1–50 of %d pages"`, info, l.Pages()))
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	tb.waitFor("the created page counted", fmt.Sprintf(`%s === "1–50 of %d pages"`, info, l.Pages()+1))
	if err := bus.FreePage(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	tb.waitFor("the freed page no longer counted", fmt.Sprintf(`%s === "1–50 of %d pages"`, info, l.Pages()))
	tb.checkConsole(t, "pages")
}
