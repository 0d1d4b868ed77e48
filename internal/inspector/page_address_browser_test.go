package inspector_test

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorPageAddressNumbers: in Chromium, a page view whose address
// holds a number that is no whole number in range (off=abc, off=1e30,
// lsn=-5, lo=5&hi=2) shows the page now from byte 0, names what it left
// out of the address, and raises no error; numbers in range work as
// before. The numbers were used as they came: off=abc drew "bytes NaN–NaN
// of 8", and lsn=-5 showed no bytes, only the server's "unmarshal message
// … invalid value for uint64 field asOfLsn" in the banner.
func TestInspectorPageAddressNumbers(t *testing.T) {
	bus := memBus(t)
	id := createSmallPages(t, bus, 1)[0]
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, url+"/ui/#/pages")
	info, note, banner := jsQuery("window-info"), jsQuery("page-address-note"), jsQuery("error")
	for _, tc := range []struct{ query, named string }{
		{"off=abc", `off="abc"`},
		{"off=1e30", `off="1e30"`},
		{"lsn=-5", `lsn="-5"`},
		{"lsn=abc&off=0", `lsn="abc"`},
		{"lo=5&hi=2", `lo=5, hi=2 (no byte range: lo below hi)`},
		{"lo=-3&hi=2", `lo="-3"`},
	} {
		tb.route(fmt.Sprintf("#/page/%d?%s", id, tc.query))
		tb.waitFor(tc.query+": the page's bytes from byte 0, and the note", info+`.textContent === "bytes 0–7 of 8" && `+
			jsCount(testid("byte"))+` === 8 && `+note+fmt.Sprintf(`.textContent.includes(%q)`, tc.named))
		if !evalTo[bool](tb, banner+`.hidden && !`+note+`.textContent.includes("lo=–")`) {
			tb.fail("%s: the banner reads %q, the note %q", tc.query, evalTo[string](tb, banner+`.textContent`), evalTo[string](tb, note+`.textContent`))
		}
	}
	tb.screenshot("page-address-numbers")
	// In range: as before, with no note.
	tb.route(fmt.Sprintf("#/page/%d?lsn=1&lo=0&hi=2", id))
	tb.waitFor("the page as of LSN 1 and the provenance of bytes 0-1", jsQuery("asof-banner")+`.textContent.includes("as of LSN 1") && `+
		jsQuery("provenance-title")+`.textContent.includes("bytes [0, 2)") && `+note+` === null`)
	tb.checkConsole(t, "page address")
}
