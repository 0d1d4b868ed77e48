package client

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
)

// An http:// client of a TLS server is told to use https://: the
// server's 400 "Client sent an HTTP request to an HTTPS server." read
// "internal: 400 Bad Request", as if the server had a bug.
func TestHTTPToTLSServerSaysHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // its "TLS handshake error"
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	c, err := New("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	_, statsErr := c.Stats(ctx)
	_, createErr := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}})
	for _, err := range []error{statsErr, createErr} {
		if code := connect.CodeOf(err); code != connect.CodeInvalidArgument {
			t.Fatalf("code %v, want invalid_argument: %v", code, err)
		}
		if !errors.Is(err, mmsb.ErrInvalidOption) || !strings.Contains(err.Error(), "use https://"+addr) {
			t.Fatalf("%v: want mmsb.ErrInvalidOption, saying to use https://%s", err, addr)
		}
		t.Log(err)
	}
}
