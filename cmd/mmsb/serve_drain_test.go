package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestServeCommitsSubmittedAtShutdown: deltas that `mmsb serve --ticks`
// accepted through Submit, and that no tick had committed when the server
// was told to stop, are committed before it exits. The orchestrator was
// closed without a last tick, which drops what waits: every graceful stop
// lost deltas acknowledged to their clients. The ticks here are an hour
// apart, so only the shutdown can commit them.
func TestServeCommitsSubmittedAtShutdown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bus")
	addr, stderr, stop := startServe(t, "--dir", dir, "--addr", "127.0.0.1:0", "--ticks", "1h")
	c, err := client.New("http://"+addr, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := c.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Submit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("submitted")), mmsb.Write(id, 9, []byte("too"))}); err != nil {
		t.Fatal(err)
	}
	stop() // what SIGTERM does; it checks the exit status
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	b, _, err := bus.ReadPage(id, nil)
	if err != nil || string(b[:12]) != "submittedtoo" {
		t.Fatalf("after the shutdown page %d = %q (%v), want the submitted deltas' bytes\n%s", id, b, err, stderr.String())
	}
}
