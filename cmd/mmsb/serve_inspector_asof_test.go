package main

import (
	"context"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestInspectorSharesTheServersAsOfSlots: the inspector `mmsb serve`
// mounts takes its as-of replays from the server's slots
// (--max-asof-reads), so a read-role user cannot run more replays at once
// through the page view than through Read. With the server's one slot
// held, the inspector's slot is not to be had until it is released.
func TestInspectorSharesTheServersAsOfSlots(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus, MaxAsOfReads: 1})
	if err != nil {
		t.Fatal(err)
	}
	o := inspectorOptions(bus, srv, nil, nil, 1<<20)
	if o.AsOfSlot == nil {
		t.Fatal("the inspector's options take no as-of slot: its page views replay unbounded")
	}
	release, err := srv.AsOfSlot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if r, err := o.AsOfSlot(ctx); err == nil {
		r()
		t.Fatal("the inspector got an as-of slot while the server's only one was held")
	}
	release()
	r, err := o.AsOfSlot(context.Background())
	if err != nil {
		t.Fatalf("the inspector's as-of slot once the server's is free: %v", err)
	}
	r()
}

// TestInspectorSharesTheServersLogQuerySlots: the inspector's QueryLog
// streams take the server's log query slots (--max-log-queries): with the
// server's one slot held, the inspector's is refused until it is released.
func TestInspectorSharesTheServersLogQuerySlots(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus, MaxLogQueries: 1})
	if err != nil {
		t.Fatal(err)
	}
	o := inspectorOptions(bus, srv, nil, nil, 1<<20)
	if o.LogQuerySlot == nil {
		t.Fatal("the inspector's options take no log query slot: its log queries run unbounded")
	}
	release, err := srv.LogQuerySlot()
	if err != nil {
		t.Fatal(err)
	}
	if r, err := o.LogQuerySlot(); err == nil {
		r()
		t.Fatal("the inspector got a log query slot while the server's only one was held")
	}
	release()
	r, err := o.LogQuerySlot()
	if err != nil {
		t.Fatalf("the inspector's log query slot once the server's is free: %v", err)
	}
	r()
}
