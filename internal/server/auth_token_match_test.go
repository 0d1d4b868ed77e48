package server_test

import (
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestAuthTokenMatch: a bearer token is accepted only when it is exactly a
// configured one: a wrong token of the same length, a longer or shorter
// one, a prefix or an extension of a valid token are all refused, and each
// valid token gets its own role.
func TestAuthTokenMatch(t *testing.T) {
	f := newFixture(t, fixOpts{http: server.HTTPOptions{Auth: server.NewAuth([]server.Token{
		{Role: server.RoleRead, Value: readTok}, {Role: server.RoleAdmin, Value: adminTok}})}})
	sameLength := strings.Repeat("r", len(readTok))
	flipped := []byte(readTok)
	flipped[len(flipped)-1] ^= 1
	cases := []struct {
		tok  string
		code int
	}{
		{readTok, 200},
		{adminTok, 200},
		{sameLength, 401},
		{string(flipped), 401},
		{readTok[:len(readTok)-1], 401},
		{readTok[:server.MinTokenLength], 401},
		{readTok + readTok, 401},
		{adminTok + "x", 401},
		{"x", 401},
	}
	for _, c := range cases {
		if code, body := postJSON(t, f.http.URL, "Stats", `{}`, map[string]string{"Authorization": "Bearer " + c.tok}); code != c.code {
			t.Errorf("token of %d bytes: status %d, want %d (%s)", len(c.tok), code, c.code, body)
		}
	}
	// Roles follow the token that matched: the read token cannot checkpoint.
	if code, _ := postJSON(t, f.http.URL, "Checkpoint", `{}`, map[string]string{"Authorization": "Bearer " + readTok}); code != 403 {
		t.Errorf("Checkpoint with the read token: status %d, want 403", code)
	}
	if code, body := postJSON(t, f.http.URL, "Checkpoint", `{}`, map[string]string{"Authorization": "Bearer " + adminTok}); code != 200 {
		t.Errorf("Checkpoint with the admin token: status %d, want 200 (%s)", code, body)
	}
}
