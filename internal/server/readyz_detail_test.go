package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestReadyzHidesBusError: /readyz is served without authentication (a
// probe has no token), so once the bus failed it answers 503 with a fixed
// text, and the bus's error (which names the log's files and the system's
// error) goes to the server's log, once. Until 2026-12-06 the body quoted
// the error to anyone who asked.
func TestReadyzHidesBusError(t *testing.T) {
	f, _ := failedBusFixture(t)
	busErr := f.bus.Err()
	if busErr == nil {
		t.Fatal("the bus did not fail")
	}
	for range 3 {
		resp, err := http.Get(f.http.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/readyz of a failed bus: %d %q, want 503", resp.StatusCode, body)
		}
		if got, want := strings.TrimSpace(string(body)), "not ready: the bus failed (the server's log has the error)"; got != want {
			t.Fatalf("/readyz of a failed bus answered %q, want %q (the bus's error is %q)", got, want, busErr)
		}
	}
	if n := strings.Count(f.logs.String(), `"msg":"not ready: the bus failed"`); n != 1 {
		t.Fatalf("the bus's error logged %d times by 3 probes, want once:\n%s", n, f.logs.String())
	}
	if !strings.Contains(f.logs.String(), errorfs.ErrInjected.Error()) {
		t.Fatalf("the log does not hold the bus's error %q:\n%s", busErr, f.logs.String())
	}
}
