package inspector_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestLogQueryTakesTheServersSlot: the inspector's QueryLog stream takes
// one of the server's log query slots (Options.LogQuerySlot,
// --max-log-queries), which the server's own QueryLog shares, so a
// read-role user cannot run more log scans at once through the inspector.
// With the server's one slot held it is refused with resource_exhausted;
// released, the same query answers.
func TestLogQueryTakesTheServersSlot(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, MaxLogQueries: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus, LogQuerySlot: srv.LogQuerySlot})
	entries := func() (int, error) {
		st, err := c.QueryLog(ctx, connect.NewRequest(&inspectorv1.QueryLogRequest{}))
		if err != nil {
			return 0, err
		}
		defer st.Close()
		n := 0
		for st.Receive() {
			n++
		}
		return n, st.Err()
	}
	release, err := srv.LogQuerySlot() // the server's one slot, held
	if err != nil {
		t.Fatal(err)
	}
	if n, err := entries(); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("inspector log query with the server's only slot held: %d entries, %v (code %v), want resource_exhausted", n, err, connect.CodeOf(err))
	}
	release()
	if n, err := entries(); err != nil || n != 2 {
		t.Fatalf("inspector log query once the slot is free: %d entries, %v; want 2 (the create and the write)", n, err)
	}
}
