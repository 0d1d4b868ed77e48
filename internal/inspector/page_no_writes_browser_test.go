package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorPageSaysNoRecentWrites: in Chromium, the view of a page no
// write reached says "no write in the log" under its last writes' header;
// once a write reaches it, that write is listed and the words are gone.
// The table showed its header alone, which read as not loaded yet.
func TestInspectorPageSaysNoRecentWrites(t *testing.T) {
	bus := memBus(t)
	id := createSmallPages(t, bus, 1)[0]
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, fmt.Sprintf("%s/ui/#/page/%d", url, id))
	table := jsQuery("recent-writes")
	tb.waitFor("the last writes' table", table+` !== null`)
	tb.waitFor(`"no write in the log"`, table+`.textContent.includes("no write in the log")`)
	tb.screenshot("page-no-writes")
	if _, err := bus.Commit(context.Background(), []mmsb.Delta{mmsb.Write(id, 0, []byte{1})}); err != nil {
		t.Fatal(err)
	}
	tb.route(fmt.Sprintf("#/page/%d?off=0", id))
	tb.waitFor("the write listed, the words gone", table+`.querySelectorAll("tr").length === 2 && !`+table+`.textContent.includes("no write in the log")`)
	tb.checkConsole(t, "page no writes")
}
