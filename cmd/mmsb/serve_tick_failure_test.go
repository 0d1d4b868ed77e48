package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestServeStopsWhenTicksStop: a tick orchestrator that stops with an
// error (here the bus failed: a log write failed under a tick's commit)
// was only logged ("tick orchestrator stopped"), and `mmsb serve --ticks`
// went on serving with no ticks: Submit acknowledged deltas that nothing
// would commit (after a commit panic, the bus whole, /readyz said ready
// too), and no supervisor that restarts on exit learned of it. The
// server now shuts down as on SIGTERM and exits 1 with the error on
// stderr.
func TestServeStopsWhenTicksStop(t *testing.T) {
	tog := failingServeWrites(t)

	dir := filepath.Join(t.TempDir(), "bus")
	c := startCmd(t, "serve", "--addr", "127.0.0.1:0", "--dir", dir, "--ticks", "5ms")
	cl := c.servingClient(t)
	ctx := context.Background()
	id, err := cl.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	tog.On() // every write and fsync fails from here: the next commit fails the bus
	if err := cl.Submit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("lost"))}); err != nil {
		t.Fatal(err)
	}

	// The deadline bounds a server that never stops; it measures nothing.
	var code int
	select {
	case code = <-c.exited:
		c.exited <- code
	case <-time.After(60 * time.Second):
		t.Fatalf("serve still running 60 s after its bus failed under a tick (it went on serving with no ticks):\n%s", c.stderr.String())
	}
	stderr := c.stderr.String()
	if code != exitFailure {
		t.Errorf("exit status %d, want %d\n%s", code, exitFailure, stderr)
	}
	for _, want := range []string{"tick orchestrator stopped", "shutting down", "bus failed", "injected write failure"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if c.stdout.String() != "" {
		t.Errorf("stdout %q, want nothing", c.stdout.String())
	}
	// What was committed before the failure is there.
	tog.Off()
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatalf("reopen after the failed serve: %v", err)
	}
	defer func() { _ = bus.Close() }()
	if _, _, err := bus.ReadPage(id, nil); err != nil {
		t.Errorf("page %d created before the failure: %v", id, err)
	}
}

// failingServeWrites makes the bus the next `mmsb serve` of this test
// opens write through a filesystem whose writes and fsyncs all fail once
// the returned toggle is on (the serve tests that fail a bus under it).
func failingServeWrites(t *testing.T) *errorfs.Toggle {
	t.Helper()
	failing := errors.New("injected write failure")
	tog := errorfs.NewToggle(errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpWrite || op.Kind == errorfs.OpSync {
			return failing
		}
		return nil
	}))
	prev := serveOpenHook
	serveOpenHook = func(o *mmsb.Options) { o.FS = errorfs.Wrap(vfs.Default, tog) }
	t.Cleanup(func() { serveOpenHook = prev })
	return tog
}
