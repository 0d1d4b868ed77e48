package server_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// gateFS holds, while shut, every filesystem operation of one kind on
// paths containing a substring: a long call reading its log (VerifyReplay)
// or writing its file (Checkpoint) then stays in flight for as long as a
// test needs.
type gateFS struct {
	kind errorfs.OpKind
	path string

	mu      sync.Mutex
	gate    chan struct{} // nil: open
	entered chan struct{} // an operation found the gate shut
}

func (g *gateFS) MaybeError(op errorfs.Op) error {
	if op.Kind != g.kind || !strings.Contains(op.Path, g.path) {
		return nil
	}
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-gate
	return nil
}

func (g *gateFS) shut() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gateFS) open() {
	g.mu.Lock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
	g.mu.Unlock()
}

// longCalls are the RPCs that may run long, with the operation that holds
// each in flight.
var longCalls = []struct {
	name string
	kind errorfs.OpKind
	path string
	call func(ctx context.Context, c *client.Client) error
}{
	{"VerifyReplay", errorfs.OpRead, "wal", func(ctx context.Context, c *client.Client) error {
		_, err := c.VerifyReplay(ctx, false)
		return err
	}},
	{"Checkpoint", errorfs.OpCreate, "checkpoints", func(ctx context.Context, c *client.Client) error {
		_, err := c.Checkpoint(ctx)
		return err
	}},
}

// newLongFixture is a bus on a gated filesystem with a few pages and
// commits in its log.
func newLongFixture(t *testing.T, g *gateFS) *fixture {
	t.Helper()
	f := newFixture(t, fixOpts{dir: "/bus", bus: &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), g)}})
	ctx := context.Background()
	ids, err := f.bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[i%2], uint32(i), []byte{byte(i)})}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// TestShutdownLongCalls: VerifyReplay and Checkpoint are treated as the
// writing calls are at shutdown. Begun after Shutdown, each is refused
// with Unavailable (VerifyReplay ran, under the bus's lock, until
// 2026-12-04). In flight, each is waited for, so Shutdown reports that its
// context ended first (VerifyReplay was not waited for: Shutdown returned
// nil and its caller's Bus.Close waited for the whole replay); and once
// Shutdown's context ended, the call stops and answers Unavailable saying
// the shutdown cut it short (a Checkpoint ran on to the end, past the
// deadline, and answered success).
func TestShutdownLongCalls(t *testing.T) {
	for _, lc := range longCalls {
		t.Run(lc.name+"/after", func(t *testing.T) {
			f := newLongFixture(t, &gateFS{kind: lc.kind, path: lc.path, entered: make(chan struct{}, 1)})
			if err := f.srv.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			err := lc.call(context.Background(), f.c)
			if code := connect.CodeOf(err); err == nil || code != connect.CodeUnavailable {
				t.Fatalf("%s after Shutdown: %v (code %v), want Unavailable", lc.name, err, code)
			}
		})
		t.Run(lc.name+"/in flight", func(t *testing.T) {
			g := &gateFS{kind: lc.kind, path: lc.path, entered: make(chan struct{}, 1)}
			f := newLongFixture(t, g)
			// Negative control: with the gate open the call succeeds, so
			// a failure below is the shutdown's doing.
			if err := lc.call(context.Background(), f.c); err != nil {
				t.Fatalf("%s with nothing in its way: %v", lc.name, err)
			}
			g.shut()
			defer g.open()
			called := make(chan error, 1)
			go func() { called <- lc.call(context.Background(), f.c) }()
			recv(t, g.entered, "call held on the filesystem") // in flight

			ctx, cancel := context.WithCancel(context.Background())
			shutdown := make(chan error, 1)
			go func() { shutdown <- f.srv.Shutdown(ctx) }()
			waitFor(t, func() bool { return server.Draining(f.srv) })
			cancel() // the call is still held: Shutdown must still be waiting
			if err := recv(t, shutdown, "Shutdown's return once cancelled"); !errors.Is(err, context.Canceled) {
				t.Errorf("Shutdown returned %v while a %s was in flight: it did not wait for it", err, lc.name)
			}
			g.open()
			err := recv(t, called, "end of the call cut by Shutdown")
			if code := connect.CodeOf(err); err == nil || code != connect.CodeUnavailable || !strings.Contains(err.Error(), "shutting down") {
				t.Fatalf("%s cut short by Shutdown: %v (code %v), want Unavailable naming the shutdown", lc.name, err, code)
			}
		})
	}
}
