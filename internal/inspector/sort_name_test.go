package inspector_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestUnknownSortNameRefused: a JSON ListPages naming a sort column that
// does not exist is invalid_argument naming the field, as a number that is
// no column is: Connect's JSON decoding dropped an unknown enum name, and
// the listing answered 200 sorted by ID. A known name still answers.
func TestUnknownSortNameRefused(t *testing.T) {
	bus, _, _, _ := serviceFixture(t)
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(url+"/mmsb.inspector.v1.InspectorService/ListPages", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	for _, name := range []string{"PAGE_SORT_EPOCHX", "bogus"} {
		code, body := post(`{"limit":2,"sort":"` + name + `"}`)
		if code != http.StatusBadRequest || !strings.Contains(body, "invalid_argument") || !strings.Contains(body, name) {
			t.Errorf("ListPages sort %q: HTTP %d %s; want 400 invalid_argument naming the value", name, code, body)
		}
	}
	if code, body := post(`{"limit":2,"sort":"PAGE_SORT_EPOCH"}`); code != http.StatusOK {
		t.Errorf("ListPages sort PAGE_SORT_EPOCH: HTTP %d %s; want 200", code, body)
	}
}
