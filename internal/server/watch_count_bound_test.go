package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

var errOpened = errors.New("the watch opened")

// TestWatchCountBound: the server refuses a watch past Config.MaxWatchers
// with ResourceExhausted naming the bound, and takes one again once a
// watch closed. Before 2026-12-04 the number of watches was unbounded
// (a read-role client could open them over any number of connections):
// the third watch of a server allowing two opened. Control: the first
// two, and a third after one closed, open.
func TestWatchCountBound(t *testing.T) {
	f := newFixture(t, fixOpts{maxWatch: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// open returns once the watch got its first event (it is then
	// counted), or failed; hold keeps it open until closed.
	open := func(hold chan struct{}) (<-chan error, error) {
		done := make(chan error, 1)
		first := make(chan error, 1)
		go func() {
			done <- f.c.Watch(ctx, client.WatchOptions{MaxReconnects: 1}, func(client.WatchEvent) error {
				select {
				case first <- nil:
				default:
				}
				<-hold
				return errOpened
			})
		}()
		select {
		case err := <-first:
			return done, err
		case err := <-done:
			return done, err
		}
	}
	holds := []chan struct{}{make(chan struct{}), make(chan struct{})}
	var dones []<-chan error
	for i, h := range holds {
		done, err := open(h)
		if err != nil {
			t.Fatalf("watch %d of 2: %v", i+1, err)
		}
		dones = append(dones, done)
	}
	if n := f.srv.Watchers(); n != 2 {
		t.Fatalf("%d watchers open, want 2", n)
	}
	third := make(chan struct{})
	close(third)
	_, err := open(third)
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "2 watches") {
		t.Fatalf("a third watch with Config.MaxWatchers 2: %v (code %v), want resource_exhausted naming 2", err, connect.CodeOf(err))
	}
	if !errors.Is(err, client.ErrServerBusy) {
		t.Fatalf("a third watch with Config.MaxWatchers 2: %v, want it to wrap client.ErrServerBusy (the refusal passes)", err)
	}
	close(holds[0])
	if err := recv(t, dones[0], "end of the first watch"); !errors.Is(err, errOpened) {
		t.Fatalf("closing the first watch: %v", err)
	}
	// The handler ends once it notices the client went away.
	waitFor(t, func() bool { return f.srv.Watchers() == 1 })
	done3, err := open(third)
	if err != nil {
		t.Fatalf("a watch after one of two closed: %v", err)
	}
	recv(t, done3, "end of the third watch")
	close(holds[1])
	recv(t, dones[1], "end of the second watch")
}

// TestMaxWatchersNegative: a negative bound is refused, naming the field;
// control: 0 (the default) is accepted.
func TestMaxWatchersNegative(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	if _, err := server.New(server.Config{Bus: bus, MaxWatchers: -1}); err == nil || !strings.Contains(err.Error(), "MaxWatchers is -1") {
		t.Fatalf("Config.MaxWatchers -1: %v", err)
	}
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	_ = srv.Shutdown(context.Background())
}
