package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// A server at one of its bounds on work in flight (here mmsb serve
// --max-requests 1, taken by a slow request) refuses a call with an
// error wrapping ErrServerBusy: retry it later. Watch does so itself.
func ExampleErrServerBusy() {
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	srv, _ := server.New(server.Config{Bus: bus})
	defer srv.Shutdown(context.Background())
	mux := srv.Mux(server.HTTPOptions{})
	inside, release := make(chan struct{}), make(chan struct{})
	mux.HandleFunc("GET /slow", func(http.ResponseWriter, *http.Request) { close(inside); <-release })
	hs := httptest.NewServer(server.LimitRequests(mux, 1, 0, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer hs.Close()
	go func() {
		if resp, err := http.Get(hs.URL + "/slow"); err == nil {
			resp.Body.Close()
		}
	}()
	<-inside // the server's one request slot is taken

	c, _ := client.New(hs.URL, client.WithRetries(0, 0))
	defer c.Close()
	_, err := c.Stats(context.Background())
	fmt.Println("busy:", errors.Is(err, client.ErrServerBusy), connect.CodeOf(err))
	close(release)
	// Output:
	// busy: true resource_exhausted
}
