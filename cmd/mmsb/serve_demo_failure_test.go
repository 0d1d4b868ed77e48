package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/demo"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestServeDemoStopsWhenTicksStop: the demo's tick orchestrator (which
// commits the writer's and the clients' Submits) stopping with an error
// (here closed under serve; a tick whose commit panicked stops it alike,
// the bus whole) was recorded in the demo alone, and `mmsb serve --demo`
// went on serving, acknowledging Submits that no tick would commit. It
// now stops as plain serve does when its bus fails
// (TestServeStopsWhenBusFails): shut down, exit 1, the error on stderr.
func TestServeDemoStopsWhenTicksStop(t *testing.T) {
	started := make(chan *demo.Demo, 1)
	prev := serveDemoHook
	serveDemoHook = func(d *demo.Demo) { started <- d }
	t.Cleanup(func() { serveDemoHook = prev })

	c := startCmd(t, "serve", "--addr", "127.0.0.1:0", "--demo")
	c.servingClient(t)
	d := testutil.Recv(t, started, "serve --demo did not start its demo")
	_ = d.Ticks.Close() // its Run stops with ErrClosed

	// The deadline bounds a server that never stops; it measures nothing.
	var code int
	select {
	case code = <-c.exited:
		c.exited <- code
	case <-time.After(60 * time.Second):
		t.Fatalf("serve --demo still running 60 s after its demo's orchestrator stopped:\n%s", c.stderr.String())
	}
	stderr := c.stderr.String()
	if code != exitFailure {
		t.Errorf("exit status %d, want %d\n%s", code, exitFailure, stderr)
	}
	for _, want := range []string{"the demo's tick orchestrator or writer stopped: shutting down", "server shut down", "closed"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
