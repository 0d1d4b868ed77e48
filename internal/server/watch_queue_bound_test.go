package server_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// A watch queue past MaxWatchQueue is refused by New: each watcher's
// queue is made when it starts, and 10^12 entries (accepted before) crashed the server at
// the first watch. The bound itself is accepted.
func TestWatchQueueBound(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := server.New(server.Config{Bus: bus, Logger: quiet, WatchQueue: server.MaxWatchQueue + 1}); err == nil {
		t.Fatal("New with WatchQueue MaxWatchQueue+1: <nil>, want an error")
	}
	srv, err := server.New(server.Config{Bus: bus, Logger: quiet, WatchQueue: server.MaxWatchQueue})
	if err != nil {
		t.Fatalf("New with WatchQueue = MaxWatchQueue: %v", err)
	}
	_ = srv.Shutdown(context.Background())
}
