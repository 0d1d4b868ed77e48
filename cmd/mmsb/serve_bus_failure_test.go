package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestServeStopsWhenBusFails: `mmsb serve` without --ticks whose bus
// failed (a log write or fsync failed under a client's commit) refused
// every write and said 503 on /readyz, but the process lived on, so a
// supervisor that restarts on exit never restarted it. It now shuts down
// as with --ticks (TestServeStopsWhenTicksStop) and exits 1 with the
// error on stderr.
func TestServeStopsWhenBusFails(t *testing.T) {
	tog := failingServeWrites(t)

	dir := filepath.Join(t.TempDir(), "bus")
	c := startCmd(t, "serve", "--addr", "127.0.0.1:0", "--dir", dir, "--sync", "always")
	cl := c.servingClient(t)
	ctx := context.Background()
	id, err := cl.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	tog.On() // every write and fsync fails from here: this commit fails the bus
	if _, err := cl.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("lost"))}); err == nil {
		t.Fatal("a commit whose log write failed succeeded")
	}

	// The deadline bounds a server that never stops; it measures nothing.
	var code int
	select {
	case code = <-c.exited:
		c.exited <- code
	case <-time.After(60 * time.Second):
		t.Fatalf("serve still running 60 s after its bus failed (no --ticks):\n%s", c.stderr.String())
	}
	stderr := c.stderr.String()
	if code != exitFailure {
		t.Errorf("exit status %d, want %d\n%s", code, exitFailure, stderr)
	}
	for _, want := range []string{"the bus refuses writes for good: shutting down", "server shut down", "bus failed", "injected write failure"} {
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
