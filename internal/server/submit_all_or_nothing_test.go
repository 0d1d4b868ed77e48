package server_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/tick"
)

// submitFixture is a server whose orchestrator no loop ticks: the test
// ticks it, so what a Submit queued can be counted before any tick takes it.
type submitFixture struct {
	bus  *mmsb.Bus
	orch *tick.Orchestrator
	c    *client.Client
	ids  []mmsb.PageID
}

func newSubmitFixture(t *testing.T, queue int) *submitFixture {
	t.Helper()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ids, err := bus.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	orch, err := tick.New(bus, &tick.Options{QueueSize: queue, FailWhenFull: true, SkipStartupResync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = orch.Close() })
	srv, err := server.New(server.Config{Bus: bus, Orchestrator: orch})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		hs.Close()
	})
	c, err := client.New(hs.URL, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return &submitFixture{bus: bus, orch: orch, c: c, ids: ids}
}

// tick runs one tick and returns how many deltas it committed.
func (f *submitFixture) tick(t *testing.T) int {
	t.Helper()
	r, err := f.orch.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r.Committed
}

// TestSubmitAllOrNothing: a Submit that fails queued none of its deltas,
// whatever the reason (a bad third delta, room for only part of the batch
// with FailWhenFull, more deltas than the queue holds), so sending it again
// applies each delta once. Before, the handler queued the deltas one at a
// time: the bad delta was accepted (the tick rejected it later), the
// deltas before a full queue stayed queued, and a retry applied them a
// second time. The negative control is a batch that fits: all accepted.
func TestSubmitAllOrNothing(t *testing.T) {
	ctx := context.Background()
	f := newSubmitFixture(t, 4)
	w := func(i int, b byte) mmsb.Delta { return mmsb.Write(f.ids[i], 0, []byte{b}) }

	// A bad third delta.
	last := f.bus.LastLSN()
	err := f.c.Submit(ctx, []mmsb.Delta{w(0, 1), w(1, 1), mmsb.Write(999, 0, []byte{1})})
	if connect.CodeOf(err) != connect.CodeNotFound || !strings.Contains(err.Error(), "delta 2") {
		t.Fatalf("Submit with a third delta to a missing page: %v (code %v), want NotFound naming delta 2", err, connect.CodeOf(err))
	}
	if n := f.orch.QueueLen(); n != 0 {
		t.Fatalf("a refused Submit left %d deltas queued", n)
	}
	if f.tick(t); f.bus.LastLSN() != last {
		t.Fatalf("a refused Submit moved the log from LSN %d to %d", last, f.bus.LastLSN())
	}

	// More than the queue holds.
	err = f.c.Submit(ctx, []mmsb.Delta{w(0, 1), w(1, 1), w(2, 1), w(0, 2), w(1, 2)})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "5 deltas") || !strings.Contains(err.Error(), "at most 4") {
		t.Fatalf("Submit of 5 deltas into a queue of 4: %v (code %v), want InvalidArgument naming both", err, connect.CodeOf(err))
	}
	if n := f.orch.QueueLen(); n != 0 {
		t.Fatalf("a Submit over the queue's capacity left %d deltas queued", n)
	}

	// Room for only part of the batch, then the same call again.
	for i := range 3 {
		d := w(2, byte(10+i))
		if err := f.orch.Submit(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	batch := []mmsb.Delta{w(0, 7), w(1, 7)}
	if err := f.c.Submit(ctx, batch); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("Submit of 2 deltas with room for 1: %v (code %v), want ResourceExhausted", err, connect.CodeOf(err))
	}
	if n := f.orch.QueueLen(); n != 3 {
		t.Fatalf("a Submit refused for want of room left the queue at %d deltas, want the 3 before it", n)
	}
	if n := f.tick(t); n != 3 {
		t.Fatalf("tick committed %d deltas, want 3", n)
	}
	if err := f.c.Submit(ctx, batch); err != nil {
		t.Fatalf("the same Submit again, with room: %v", err)
	}
	if n := f.tick(t); n != 2 {
		t.Fatalf("tick committed %d deltas, want the batch's 2", n)
	}
	for _, id := range f.ids[:2] {
		b, epoch, err := f.bus.ReadPage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if epoch != 1 || b[0] != 7 {
			t.Fatalf("page %d at epoch %d holding %d after one accepted Submit, want epoch 1 holding 7 (applied once)", id, epoch, b[0])
		}
	}
}
