package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestHostGuardPlainTextOutsideRPCs: a refused request for the UI,
// /metrics or a probe is answered in plain text naming the Host and
// --allowed-hosts (a browser opening /ui/ was shown a Connect JSON error:
// connect's error writer takes every GET for a Connect one); an RPC,
// by GET or POST, still gets its Connect error.
func TestHostGuardPlainTextOutsideRPCs(t *testing.T) {
	h := server.HostGuard(http.NotFoundHandler(), "127.0.0.1:7070", nil)
	for _, tc := range []struct {
		method, target, ctype string
		rpc                   bool
	}{
		{http.MethodGet, "/ui/", "", false},
		{http.MethodGet, "/ui/app.js", "", false},
		{http.MethodGet, "/", "", false},
		{http.MethodGet, "/metrics", "", false},
		{http.MethodGet, "/healthz", "", false},
		{http.MethodGet, "/readyz", "", false},
		{http.MethodPost, "/ui/", "application/json", false},
		{http.MethodGet, "/mmsb.v1.BusService/Stats?connect=v1&encoding=json&message=%7B%7D", "", true},
		{http.MethodPost, "/mmsb.v1.BusService/Stats", "application/json", true},
		{http.MethodPost, "/mmsb.inspector.v1.InspectorService/Overview", "application/json", true},
	} {
		req := httptest.NewRequest(tc.method, tc.target, strings.NewReader("{}"))
		req.Host = "attacker.example:7070"
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		body, ct := w.Body.String(), w.Header().Get("Content-Type")
		if w.Code != http.StatusForbidden || !strings.Contains(body, "attacker.example") || !strings.Contains(body, "--allowed-hosts") {
			t.Errorf("%s %s: %d %q, want 403 naming the Host and --allowed-hosts", tc.method, tc.target, w.Code, body)
			continue
		}
		var connectErr struct{ Code string }
		isJSON := json.Unmarshal([]byte(body), &connectErr) == nil && connectErr.Code == "permission_denied"
		if tc.rpc {
			if !isJSON || !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s %s (an RPC): Content-Type %q, body %q; want a Connect permission_denied error", tc.method, tc.target, ct, body)
			}
			continue
		}
		if isJSON || !strings.HasPrefix(ct, "text/plain") || !strings.HasPrefix(body, "mmsb: ") {
			t.Errorf("%s %s: Content-Type %q, body %q; want plain text", tc.method, tc.target, ct, body)
		}
	}
}
