package inspector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorLogBlankFieldsAreEmpty: in Chromium, the log view with
// only spaces in its "from LSN" field lists the newest 100 operations, as
// with the field empty. The field was read as LSN 0 but counted as a
// range given, so the view listed the oldest 100 instead.
func TestInspectorLogBlankFieldsAreEmpty(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	ids := createSmallPages(t, bus, 1)
	for i := range 150 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, f64(float64(i)))}); err != nil {
			t.Fatal(err)
		}
	}
	last := bus.LastLSN()
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	tb := openTab(t, url+"/ui/#/log")
	rows := jsCount(testid("log-row"))
	first := jsQuery("log-row") + `.dataset.lsn`
	tb.waitFor("the newest operations", jsQuery("log-info")+`.textContent === "200 operations" || `+jsQuery("log-info")+`.textContent.endsWith(" operations")`)
	tb.eval(fmt.Sprintf(`{ const l = %s; l.value = "100"; %s.value = "   "; %s.click(); true }`, jsQuery("log-limit"), jsQuery("log-from"), jsQuery("log-run")))
	tb.waitFor("100 operations", jsQuery("log-info")+`.textContent === "100 operations" && `+rows+` === 100`)
	if got, want := evalTo[string](tb, first), fmt.Sprint(last-99); got != want {
		tb.fail("with spaces in from LSN, the first of 100 operations listed is LSN %s; want %s (the newest 100 of %d)", got, want, last)
	}
	tb.checkConsole(t, "log blank fields")
}
