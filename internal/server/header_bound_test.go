package server_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestRequestHeaderBound: the HTTP server refuses a request whose header
// passes server.MaxHeaderBytes, over HTTP/1.1 (431) and HTTP/2 (the limit
// it advertises, which the client keeps). net/http's default of 1 MiB
// let 200 connections without a credential make the server hold 340 MB
// for the 10 s header timeout. The control: a header of 32 KiB is
// served.
func TestRequestHeaderBound(t *testing.T) {
	hs := server.NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &p}}
	h1 := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(h2c.CloseIdleConnections)
	t.Cleanup(h1.CloseIdleConnections)
	for _, proto := range []struct {
		name string
		hc   *http.Client
	}{{"HTTP/1.1", h1}, {"HTTP/2", h2c}} {
		for _, size := range []int{32 << 10, 100 << 10} {
			req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Big", strings.Repeat("a", size))
			resp, err := proto.hc.Do(req)
			status := 0
			if err == nil {
				status = resp.StatusCode
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			served := err == nil && status == http.StatusOK
			if want := size <= server.MaxHeaderBytes; served != want {
				t.Errorf("%s, header of %d KiB: served %v (status %d, err %v), want %v", proto.name, size>>10, served, status, err, want)
			}
		}
	}
}
