package inspector_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestInspectorLogMarksACutWriteOnce: in Chromium, the log view shows a
// write of 300 bytes (the answer cut at 256) by its first 24 bytes then
// one "…", and a write of 4 bytes whole. Before, a cut write read
// "… …": hexString marked the bytes past 24 and the cut was marked again.
func TestInspectorLogMarksACutWriteOnce(t *testing.T) {
	bus, _, _, url := serviceFixture(t)
	ctx := context.Background()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 512}})
	if err != nil {
		t.Fatal(err)
	}
	page := ids[0]
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(page, 0, bytes.Repeat([]byte{0xab}, 300))}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(page, 0, []byte{1, 2, 3, 4})}); err != nil {
		t.Fatal(err)
	}
	tb := openTab(t, fmt.Sprintf("%s/ui/#/log?page=%d", url, page))
	cells := `[...document.querySelectorAll('[data-testid="log-data"]')].map((c) => c.textContent).filter((s) => s)`
	tb.waitFor("the page's two writes", cells+`.length === 2`)
	long := "ab" + string(bytes.Repeat([]byte(" ab"), 23)) + " …"
	if got := evalTo[[]string](tb, cells); got[0] != long || got[1] != "01 02 03 04" {
		tb.fail("the log's data cells are %q, want %q and %q", got, long, "01 02 03 04")
	}
	tb.checkConsole(t, "log")
}

// TestInspectorLogQueryOnceWhenSentTwice: in Chromium, the log view's
// query (the latest operations: an Overview call for the committed LSN,
// then the QueryLog stream) sent twice before the first Overview answer
// streams once: 200 rows, one QueryLog call. The server holds both
// Overview calls until it has them. Before, both queries streamed into
// the same table: two QueryLog calls, the rows twice.
func TestInspectorLogQueryOnceWhenSentTwice(t *testing.T) {
	bus, _, _, _ := serviceFixture(t)
	_, mux := mountInspector(t, inspector.Options{Bus: bus})
	var mu sync.Mutex
	var holding bool
	var overviews, queries int
	both := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/QueryLog"):
			queries++
		case strings.HasSuffix(r.URL.Path, "/Overview") && holding:
			overviews++
			if overviews == 2 {
				close(both)
			}
			mu.Unlock()
			select { // held until the second one came
			case <-both:
			case <-r.Context().Done():
			}
			mu.Lock()
		}
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	tb := openTab(t, ts.URL+"/ui/#/log")
	rows := jsCount(testid("log-row"))
	tb.waitFor("the first query's 200 rows", rows+` === 200 && `+jsQuery("log-info")+`.textContent === "200 operations"`)
	mu.Lock()
	holding, queries = true, 0
	mu.Unlock()
	tb.eval(jsQuery("log-run") + `.closest("form").requestSubmit(); ` + jsQuery("log-run") + `.closest("form").requestSubmit(); true`)
	tb.waitFor("the query's 200 rows", rows+` === 200 && `+jsQuery("log-info")+`.textContent === "200 operations"`)
	mu.Lock()
	n := queries
	mu.Unlock()
	if got := evalTo[int](tb, rows); n != 1 || got != 200 {
		tb.fail("a query sent twice made %d QueryLog calls and %d rows, want 1 and 200", n, got)
	}
	tb.checkConsole(t, "log")
}
