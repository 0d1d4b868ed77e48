package inspector_test

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorFailedBus: in Chromium, the bus fails (a log fsync failed)
// under an open Overview: the error banner names the failure and stays up
// while the Overview goes on reading the bus (three samples drawn), the
// LSN is marked stale, and the page view still shows the page's bytes.
// Before, nothing but the Overview's "state" card said so: the Changes
// stream went on, the header's LSN looked live, and the page view showed
// only `unavailable: mmsb: bus failed` and no bytes (its search of the
// log for the recent writes failed). With the stream ending and the UI
// unchanged, each Overview sample cleared the banner between the stream's
// retries.
func TestInspectorFailedBus(t *testing.T) {
	bus, tog, id := failingBus(t)
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, url+"/ui/#/overview")
	tb.waitFor("the overview of a bus that works", jsQuery("ov-state")+`.textContent.includes("ok")`)
	// Record whether the banner, once it named the failure, was ever
	// hidden again, and count the Overview's redraws after that.
	tb.eval(fmt.Sprintf(`(() => {
	  const banner = %s, cards = %s;
	  window.failShown = false; window.failHidden = false; window.drawsSince = 0;
	  new MutationObserver(() => {
	    if (!banner.hidden && banner.textContent.includes(%q)) window.failShown = true;
	    else if (window.failShown) window.failHidden = true;
	  }).observe(banner, { attributes: true, childList: true, characterData: true, subtree: true });
	  new MutationObserver(() => { if (window.failShown) window.drawsSince++; }).observe(cards, { childList: true });
	  return true;
	})()`, jsQuery("error"), jsQuery("overview"), mmsb.ErrFailed.Error()))
	failBus(t, bus, tog, id)
	tb.waitFor("the failure in the banner and the state card", `window.failShown && `+jsQuery("ov-state")+`.textContent.includes("FAILED")`)
	tb.waitFor("three Overview samples drawn since", `window.drawsSince >= 3`)
	if evalTo[bool](tb, `window.failHidden`) {
		tb.fail("the banner naming the bus's failure was hidden while the bus stayed failed")
	}
	if !evalTo[bool](tb, jsQuery("committed-lsn")+`.classList.contains("stale")`) {
		tb.fail("the header's LSN is not marked stale on a failed bus")
	}
	tb.screenshot("bus-failed")
	tb.route(fmt.Sprintf("#/page/%d", id))
	tb.waitFor("the failed bus's page, its 8 bytes", jsCount(testid("byte"))+` === 8`)
	if !evalTo[bool](tb, `!`+jsQuery("error")+`.hidden && `+jsQuery("error")+fmt.Sprintf(`.textContent.includes(%q)`, mmsb.ErrFailed.Error())) {
		tb.fail("the page view of a failed bus does not say the bus failed")
	}
	tb.checkConsole(t, "failed bus")
}
