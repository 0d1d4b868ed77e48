package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestAuthBeforeDecodingContentTypeCase: a call without a credential is
// refused as unauthenticated whatever the case of its Content-Type.
// Connect takes a media type's name without regard to case
// ("Application/JSON" is JSON), but the auth gate matched it as sent, so
// such a call got a body its protocol could not read and was refused
// before the auth interceptor ran: invalid_argument ("zero-length payload
// is not a valid JSON object") or unimplemented ("unary request has zero
// messages"), a client told nothing of its missing token, and the refusal
// not counted as one. The controls: the same types with a token are
// served, so Connect does accept them.
func TestAuthBeforeDecodingContentTypeCase(t *testing.T) {
	toks := []server.Token{{Role: server.RoleRead, Value: readTok}}
	f := newFixture(t, fixOpts{http: server.HTTPOptions{Auth: server.NewAuth(toks)}})
	// Cleartext HTTP/2, which gRPC needs.
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &p}}
	t.Cleanup(h2c.CloseIdleConnections)

	emptyEnvelope := "\x00\x00\x00\x00\x00"
	cases := []struct {
		contentType, body string
		grpc              bool // answers in grpc-status; over HTTP/2
	}{
		{"Application/JSON", `{}`, false},
		{"APPLICATION/JSON; Charset=UTF-8", `{}`, false},
		{"Application/Proto", "", false},
		{"APPLICATION/GRPC", emptyEnvelope, true},
		{"Application/Grpc+Proto", emptyEnvelope, true},
		{"Application/Grpc-Web+Proto", emptyEnvelope, true},
		{"application/json", `{}`, false}, // as before
	}
	for _, c := range cases {
		for _, token := range []string{"", readTok} {
			name := c.contentType + " without token"
			if token != "" {
				name = c.contentType + " control with token"
			}
			t.Run(name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodPost, f.http.URL+"/mmsb.v1.BusService/Stats", strings.NewReader(c.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", c.contentType)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				hc := http.DefaultClient
				if c.grpc {
					hc = h2c
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				// gRPC and gRPC-Web answer in a status header or
				// trailer (gRPC-Web's may be in the body); Connect
				// unary in the JSON body.
				status := resp.Header.Get("Grpc-Status") + resp.Trailer.Get("Grpc-Status")
				if strings.Contains(string(b), "grpc-status:") {
					status += strings.TrimSpace(strings.SplitN(strings.SplitN(string(b), "grpc-status:", 2)[1], "\r\n", 2)[0])
				}
				switch {
				case token == "" && c.grpc:
					if status != "16" { // unauthenticated
						t.Fatalf("want grpc-status 16 (unauthenticated), got %q: %d %q", status, resp.StatusCode, b)
					}
				case token == "":
					if !strings.Contains(string(b), `"code":"unauthenticated"`) {
						t.Fatalf("want unauthenticated, got %d %s", resp.StatusCode, b)
					}
				case c.grpc:
					if status != "0" {
						t.Fatalf("control: want grpc-status 0, got %q: %d %q", status, resp.StatusCode, b)
					}
				default:
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("control: want 200, got %d %s", resp.StatusCode, b)
					}
				}
			})
		}
	}
}
