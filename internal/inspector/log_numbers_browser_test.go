package inspector_test

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorLogSaysWhatIsNoNumber: in Chromium, the log view given a
// page that is no page ID (2^64, in the address) or an LSN that is no
// number ("abc", typed) says which field's value is not what and asks the
// server nothing; a page ID then queries as before. They were sent as
// typed, and the banner showed the server's "invalid_argument: unmarshal
// message: unmarshal into *inspectorv1.QueryLogRequest: proto: (line
// 1:35): invalid value for uint64 field page".
func TestInspectorLogSaysWhatIsNoNumber(t *testing.T) {
	bus := memBus(t)
	ids := createSmallPages(t, bus, 2)
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, url+"/ui/#/log?page=18446744073709551616")
	info, banner := jsQuery("log-info"), jsQuery("error")
	tb.waitFor("the page named as no page ID", info+`.textContent === '"18446744073709551616" is not a page ID (a decimal number from 1 to 18446744073709551615)'`)
	if !evalTo[bool](tb, banner+`.hidden && `+jsCount(testid("log-row"))+` === 0`) {
		tb.fail("a page past 2^64-1: the banner reads %q", evalTo[string](tb, banner+`.textContent`))
	}
	tb.eval(fmt.Sprintf(`{ %s.value = ""; %s.value = "abc"; %s.click(); true }`, jsQuery("log-page"), jsQuery("log-from"), jsQuery("log-run")))
	tb.waitFor("the LSN named as no number", info+`.textContent === '"abc" is not an LSN (a decimal number below 2^64)'`)
	if !evalTo[bool](tb, banner+`.hidden`) {
		tb.fail("an LSN abc: the banner reads %q", evalTo[string](tb, banner+`.textContent`))
	}
	tb.eval(fmt.Sprintf(`{ %s.value = ""; %s.value = "%d"; %s.click(); true }`, jsQuery("log-from"), jsQuery("log-page"), ids[1], jsQuery("log-run")))
	tb.waitFor("the page's one operation", info+`.textContent === "1 operation" && `+jsCount(testid("log-row"))+` === 1`)
	tb.screenshot("log-numbers")
	tb.checkConsole(t, "log numbers")
}
