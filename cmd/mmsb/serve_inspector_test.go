package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestServeShutdownEndsInspectorStreams: a browser tab left open on the
// inspector (its Changes stream) must not hold `mmsb serve`'s shutdown to
// --shutdown-timeout: the stream ends with Unavailable (inspector closed)
// and the server reports no connections left open at the deadline.
func TestServeShutdownEndsInspectorStreams(t *testing.T) {
	addr, stderr, stop := startServe(t, "--dir", t.TempDir(), "--addr", "127.0.0.1:0", "--shutdown-timeout", "10s", "--log-level", "info")
	c := inspectorv1connect.NewInspectorServiceClient(http.DefaultClient, "http://"+addr)
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	changes, err := c.Changes(sctx, connect.NewRequest(&inspectorv1.ChangesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if !changes.Receive() {
		t.Fatalf("Changes sent no first message: %v", changes.Err())
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }() // what SIGTERM does
	for changes.Receive() {
	}
	err = changes.Err()
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), inspector.ErrClosed.Error()) {
		t.Errorf("the inspector's Changes stream ended with %v, want unavailable (%v)", err, inspector.ErrClosed)
	}
	<-stopped
	if strings.Contains(stderr.String(), "still open at the shutdown deadline") {
		t.Errorf("the shutdown waited for the inspector's stream:\n%s", stderr.String())
	}
}
