package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestHTTPServerClosesIdleConnections: the server NewHTTPServer returns
// closes keep-alive connections that carry no request (nor stream) after
// a while. Without IdleTimeout (and no ReadTimeout, which streams cannot
// have) net/http keeps an idle connection, its descriptor and goroutine
// forever, so clients that connect and go quiet, authenticated or not,
// could exhaust the server's file descriptors.
func TestHTTPServerClosesIdleConnections(t *testing.T) {
	hs := server.NewHTTPServer(http.NotFoundHandler(), 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if hs.IdleTimeout <= 0 {
		t.Fatalf("IdleTimeout %v: idle connections are never closed", hs.IdleTimeout)
	}
	if hs.ReadTimeout != 0 || hs.WriteTimeout != 0 {
		t.Fatalf("ReadTimeout %v, WriteTimeout %v: they would cut watch streams", hs.ReadTimeout, hs.WriteTimeout)
	}
}
