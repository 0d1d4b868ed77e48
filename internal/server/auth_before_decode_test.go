package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestAuthBeforeDecoding: a call without a valid credential, or with one
// whose role is too weak, is refused before its message is read and
// decoded. Connect decodes a unary request before any interceptor runs,
// so an unauthenticated client could make the server buffer and decode
// messages of up to --max-request-bytes, and learned from the answer
// (invalid_argument, resource_exhausted) that it had. Every protocol
// still gets its refusal in its own framing, and the controls with a good
// credential show that the bodies are what their names say.
func TestAuthBeforeDecoding(t *testing.T) {
	toks := []server.Token{{Role: server.RoleRead, Value: readTok}, {Role: server.RoleWrite, Value: writeTok}}
	f := newFixture(t, fixOpts{http: server.HTTPOptions{Auth: server.NewAuth(toks), MaxRequestBytes: 4096}})
	big := `{"deltas":[{"page":"1","runs":[{"off":0,"data":"` + strings.Repeat("A", 8192) + `"}]}]}`
	cases := []struct {
		name, method, contentType, body, token string
		code                                   connect.Code
	}{
		{"malformed protobuf, no token", "Commit", "application/proto", "\xff\xff\xff\xff", "", connect.CodeUnauthenticated},
		{"malformed JSON, unknown token", "Commit", "application/json", `{"deltas":[{`, "wrong-token-0123456789abcdef", connect.CodeUnauthenticated},
		{"oversized, no token", "Commit", "application/json", big, "", connect.CodeUnauthenticated},
		{"malformed protobuf, read role", "Commit", "application/proto", "\xff\xff\xff\xff", readTok, connect.CodePermissionDenied},
		{"gzip-encoded garbage, no token", "Stats", "application/json", "not gzip", "", connect.CodeUnauthenticated},
		{"control: malformed protobuf, write role", "Commit", "application/proto", "\xff\xff\xff\xff", writeTok, connect.CodeInvalidArgument},
		{"control: oversized, write role", "Commit", "application/json", big, writeTok, connect.CodeResourceExhausted},
		{"control: good JSON, no token", "Stats", "application/json", `{}`, "", connect.CodeUnauthenticated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, f.http.URL+"/mmsb.v1.BusService/"+c.method, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", c.contentType)
			if strings.HasPrefix(c.name, "gzip") {
				req.Header.Set("Content-Encoding", "gzip")
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(b, []byte(`"code":"`+c.code.String()+`"`)) {
				t.Fatalf("want %v, got %d %s", c.code, resp.StatusCode, b)
			}
		})
	}
	// The streaming and gRPC framings refuse as before.
	for _, grpc := range []bool{false, true} {
		opts := []client.Option{client.WithRetries(0, 0)}
		if grpc {
			opts = append(opts, client.WithGRPC())
		}
		cl, err := client.New(f.http.URL, opts...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Stats(context.Background())
		wantCode(t, err, connect.CodeUnauthenticated)
		err = cl.Watch(context.Background(), client.WatchOptions{}, func(client.WatchEvent) error { return nil })
		wantCode(t, err, connect.CodeUnauthenticated)
	}
}
