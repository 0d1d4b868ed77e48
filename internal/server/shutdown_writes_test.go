package server_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// gateReplicator is a Replicator whose WaitStored blocks while its gate is
// shut: with mmsb.SyncReplicated it holds any write in flight, logged and
// applied but not acknowledged, for as long as a test needs.
type gateReplicator struct {
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	entered chan struct{} // a WaitStored found the gate shut
}

func newGateReplicator() *gateReplicator {
	return &gateReplicator{entered: make(chan struct{}, 1)}
}

func (r *gateReplicator) MaxRecordBytes() int                    { return 0 }
func (r *gateReplicator) Replicate(*mmsb.ReplicatedRecord) error { return nil }

func (r *gateReplicator) WaitStored(ctx context.Context, _ mmsb.LSN) error {
	r.mu.Lock()
	gate := r.gate
	r.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case r.entered <- struct{}{}:
	default:
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *gateReplicator) shut() {
	r.mu.Lock()
	r.gate = make(chan struct{})
	r.mu.Unlock()
}

func (r *gateReplicator) open() {
	r.mu.Lock()
	if r.gate != nil {
		close(r.gate)
		r.gate = nil
	}
	r.mu.Unlock()
}

// writeCalls are the writing RPCs, each on pages made by setupWrites.
var writeCalls = []struct {
	name string
	call func(ctx context.Context, c *client.Client, ids []mmsb.PageID) error
}{
	{"CreatePages", func(ctx context.Context, c *client.Client, _ []mmsb.PageID) error {
		_, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}})
		return err
	}},
	{"FreePage", func(ctx context.Context, c *client.Client, ids []mmsb.PageID) error { return c.FreePage(ctx, ids[2]) }},
	{"SetMetadata", func(ctx context.Context, c *client.Client, ids []mmsb.PageID) error {
		return c.SetMetadata(ctx, ids[0], []mmsb.MetaEntry{{Key: "k", Value: []byte("v")}})
	}},
	{"Commit", func(ctx context.Context, c *client.Client, ids []mmsb.PageID) error {
		_, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte("x"))})
		return err
	}},
	{"AddEdge", func(ctx context.Context, c *client.Client, ids []mmsb.PageID) error {
		return c.AddEdge(ctx, ids[0], ids[1], mmsb.EdgeControl)
	}},
	{"RemoveEdge", func(ctx context.Context, c *client.Client, ids []mmsb.PageID) error {
		return c.RemoveEdge(ctx, ids[3], ids[4], mmsb.EdgeControl)
	}},
	{"Bind", func(ctx context.Context, c *client.Client, ids []mmsb.PageID) error {
		return c.Bind(ctx, ids[1], "copy", nil, []mmsb.PageID{ids[0]})
	}},
	{"Unbind", func(ctx context.Context, c *client.Client, ids []mmsb.PageID) error { return c.Unbind(ctx, ids[5]) }},
	{"Submit", func(ctx context.Context, c *client.Client, ids []mmsb.PageID) error {
		return c.Submit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 1, []byte("y"))})
	}},
	{"Checkpoint", func(ctx context.Context, c *client.Client, _ []mmsb.PageID) error {
		_, err := c.Checkpoint(ctx)
		return err
	}},
}

// setupWrites makes the pages the writeCalls work on: 0 and 1 free of
// edges, 2 to free, 3 -> 4 an edge to remove, 5 bound to 0.
func setupWrites(t *testing.T, f *fixture) []mmsb.PageID {
	t.Helper()
	ctx := context.Background()
	ids, err := f.bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}, {Size: 16}, {Size: 16}, {Size: 16}, {Size: 16}, {Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.bus.AddEdge(ctx, ids[3], ids[4], mmsb.EdgeControl); err != nil {
		t.Fatal(err)
	}
	if err := f.bus.Bind(ctx, ids[5], "copy", nil, []mmsb.PageID{ids[0]}); err != nil {
		t.Fatal(err)
	}
	// Compute the new binding now: the wave that does logs a wave op
	// (its retry set changes), and with ticks on it would otherwise come
	// from the fixture's ticker at any time, after Shutdown too.
	if _, err := f.bus.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestShutdownRefusesWrites: once Shutdown has begun, every writing RPC is
// refused with Unavailable, not only Commit: the caller closes the bus
// after Shutdown returns, and a write Shutdown did not wait for could be
// cut off by that.
func TestShutdownRefusesWrites(t *testing.T) {
	f := newFixture(t, fixOpts{ticks: true})
	ids := setupWrites(t, f)
	if err := f.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	last := f.bus.LastLSN()
	for _, w := range writeCalls {
		err := w.call(context.Background(), f.c, ids)
		if code := connect.CodeOf(err); err == nil || code != connect.CodeUnavailable {
			t.Errorf("%s after Shutdown: %v (code %v), want Unavailable", w.name, err, code)
		}
	}
	if got := f.bus.LastLSN(); got != last {
		t.Errorf("writes after Shutdown moved the bus from LSN %d to %d", last, got)
	}
}

// TestShutdownWaitsForWrites: Shutdown waits for every writing RPC in
// flight, whichever it is, so that the bus is closed after them and they
// answer with their own result. The replicator holds each write in flight
// (logged and applied, not yet acknowledged); Shutdown must then still be
// waiting when its context ends, and report that.
func TestShutdownWaitsForWrites(t *testing.T) {
	for _, w := range writeCalls {
		if w.name == "Submit" || w.name == "Checkpoint" {
			continue // they wait for no replication: nothing holds them in flight
		}
		t.Run(w.name, func(t *testing.T) {
			rep := newGateReplicator()
			f := newFixture(t, fixOpts{bus: &mmsb.Options{Replicator: rep, Sync: mmsb.SyncReplicated}})
			ids := setupWrites(t, f)
			rep.shut()
			defer rep.open()
			wrote := make(chan error, 1)
			go func() { wrote <- w.call(context.Background(), f.c, ids) }()
			recv(t, rep.entered, "write waiting for the replicator") // logged and applied

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			shutdown := make(chan error, 1)
			go func() { shutdown <- f.srv.Shutdown(ctx) }()
			waitFor(t, func() bool { // Shutdown has begun: /readyz says so
				resp, err := http.Get(f.http.URL + "/readyz")
				if err != nil {
					return false
				}
				_ = resp.Body.Close()
				return resp.StatusCode == http.StatusServiceUnavailable
			})
			cancel() // the write is still held: Shutdown must still wait for it
			if err := recv(t, shutdown, "Shutdown's return once cancelled"); !errors.Is(err, context.Canceled) {
				t.Errorf("Shutdown returned %v while a %s was in flight: it did not wait for it", err, w.name)
			}
			rep.open()
			if err := recv(t, wrote, "end of the write in flight at Shutdown"); err != nil {
				t.Fatalf("%s in flight at Shutdown: %v, want it completed", w.name, err)
			}
		})
	}
}
