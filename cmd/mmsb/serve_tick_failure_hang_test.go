package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestServeTickFailureShutdownEnds: serve stops itself when its ticks
// stop (TestServeStopsWhenTicksStop), with no signal to cut a hang short
// (a first SIGTERM then only cancels a context nothing waits on). A bus
// that cannot settle, here a failed disk whose file close hangs (as a
// Commit that panicked holding the bus's lock hangs Drain, Flush and
// Close), kept the process alive for ever, serving nothing, and no
// supervisor restarted it. Its shutdown now ends within
// --shutdown-timeout with exit 1.
func TestServeTickFailureShutdownEnds(t *testing.T) {
	// failingServeWrites' disk, plus a close that hangs until the test
	// releases it: not folded into that helper, whose toggle only fails
	// writes and syncs, and whose callers need every close to return.
	failing := errors.New("injected write failure")
	release := make(chan struct{})
	var once sync.Once
	tog := errorfs.NewToggle(errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpWrite, errorfs.OpSync:
			return failing
		case errorfs.OpClose:
			<-release // the disk hangs until the test ends
		}
		return nil
	}))
	prev := serveOpenHook
	serveOpenHook = func(o *mmsb.Options) { o.FS = errorfs.Wrap(vfs.Default, tog) }
	t.Cleanup(func() { serveOpenHook = prev })

	dir := filepath.Join(t.TempDir(), "bus")
	c := startCmd(t, "serve", "--addr", "127.0.0.1:0", "--dir", dir, "--ticks", "5ms", "--shutdown-timeout", "1s")
	// Registered after startCmd's stop, so run before it: the hung close
	// ends and the command's goroutines with it.
	t.Cleanup(func() { tog.Off(); once.Do(func() { close(release) }) })
	cl := c.servingClient(t)
	ctx := context.Background()
	id, err := cl.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	tog.On() // every write and fsync fails from here, and every close hangs
	if err := cl.Submit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("lost"))}); err != nil {
		t.Fatal(err)
	}
	// The deadline bounds a server that never stops; it measures nothing.
	var code int
	select {
	case code = <-c.exited:
		c.exited <- code
	case <-time.After(45 * time.Second):
		t.Fatalf("serve still running 45 s after its bus failed under a tick, --shutdown-timeout 1s (its shutdown hung on the bus):\n%s", c.stderr.String())
	}
	stderr := c.stderr.String()
	if code != exitFailure {
		t.Errorf("exit status %d, want %d\n%s", code, exitFailure, stderr)
	}
	for _, want := range []string{"tick orchestrator stopped", "injected write failure", "did not flush and close within --shutdown-timeout"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
