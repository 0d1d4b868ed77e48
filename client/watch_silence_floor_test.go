package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestWatchSmallSilenceTimeoutFloored: a SilenceTimeout below three
// progress intervals is raised to them from the start of each stream,
// as its doc says, not only once the server's headers have come: until
// 2026-12-07 the wait for the opening message used the bare value, and
// 1 ns or 1 ms failed every try against a healthy server with
// ErrWatchSilent.
func TestWatchSmallSilenceTimeoutFloored(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	c, err := client.New(hs.URL, client.WithRetries(0, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{1})}); err != nil {
		t.Fatal(err)
	}
	errGot := errors.New("got the write")
	for _, silence := range []time.Duration{time.Nanosecond, time.Millisecond} {
		t.Run(silence.String(), func(t *testing.T) {
			err := c.Watch(ctx, client.WatchOptions{Pages: []mmsb.PageID{id}, MaxReconnects: 1, SilenceTimeout: silence},
				func(ev client.WatchEvent) error {
					if len(ev.Changes) > 0 {
						return errGot
					}
					return nil
				})
			if !errors.Is(err, errGot) {
				t.Fatalf("Watch with SilenceTimeout %v: %v, want the write delivered (fn's error)", silence, err)
			}
		})
	}
}
