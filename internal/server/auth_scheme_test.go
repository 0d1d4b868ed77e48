package server_test

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestAuthSchemeCase: the authentication scheme is case-insensitive and
// may be followed by several spaces (RFC 7235 section 2.1, RFC 6750
// section 2.1), so "bearer TOKEN" from a client that lowercases it is
// the same credential as "Bearer TOKEN"; other schemes, and a scheme
// without a token, are still refused.
func TestAuthSchemeCase(t *testing.T) {
	f := newFixture(t, fixOpts{http: server.HTTPOptions{Auth: server.NewAuth([]server.Token{{Role: server.RoleRead, Value: readTok}})}})
	cases := []struct {
		header string
		code   int
	}{
		{"Bearer " + readTok, 200},
		{"bearer " + readTok, 200},
		{"BEARER " + readTok, 200},
		{"Bearer   " + readTok, 200},
		{"Bearer " + readTok + "x", 401},
		{"Basic " + readTok, 401},
		{"Bearer" + readTok, 401},
		{"Bearer ", 401},
		{"Bearer", 401},
	}
	for _, c := range cases {
		code, body := postJSON(t, f.http.URL, "Stats", `{}`, map[string]string{"Authorization": c.header})
		if code != c.code {
			t.Errorf("Authorization %q: status %d, want %d (%s)", c.header, code, c.code, body)
		}
	}
}
