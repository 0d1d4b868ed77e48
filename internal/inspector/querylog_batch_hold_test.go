package inspector_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestQueryLogBatchesCountAgainstServerBounds: a plain QueryLog (not
// newest) of 200 operations counts each batch it sends against the
// server's bounds on answer bytes (server.HoldAnswer), at least the
// batch's encoded size, before sending it, and gives it back once sent
// (server.DropAnswer): the stream never holds more than one batch counted,
// holds nothing at its end, and counted at least the answer's size in
// all. A batch the bounds refuse ends the stream with their error,
// resource_exhausted. Such a stream counted nothing: a client that read
// none of its answers held batches of 64 entries beyond the bounds.
func TestQueryLogBatchesCountAgainstServerBounds(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	a := createSmallPages(t, bus, 1)[0]
	for i := range 199 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(a, 0, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
			t.Fatal(err)
		}
	}
	in, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	var mu sync.Mutex
	var refuse error
	counted, held, most, holds := 0, 0, 0, 0
	inspector.SetAnswerHold(in, func(_ context.Context, what string, n int) error {
		mu.Lock()
		defer mu.Unlock()
		if refuse != nil {
			return refuse
		}
		if what == "QueryLog" {
			counted += n
			held += n
			most = max(most, held)
			holds++
		}
		return nil
	})
	inspector.SetAnswerDrop(in, func(_ context.Context, keep int) {
		mu.Lock()
		defer mu.Unlock()
		held = min(held, keep)
	})
	entries, err := drainLog(t, c, &inspectorv1.QueryLogRequest{Page: uint64(a), Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	size, batch := 0, 0
	for i, e := range entries {
		size += proto.Size(e)
		if i < 64 {
			batch += proto.Size(e)
		}
	}
	mu.Lock()
	gotCounted, gotHeld, gotMost, gotHolds := counted, held, most, holds
	mu.Unlock()
	if len(entries) != 200 {
		t.Fatalf("%d entries, want 200", len(entries))
	}
	if gotCounted < size || gotHolds < 4 {
		t.Errorf("a QueryLog of 200 entries (%d bytes) counted %d bytes in %d holds against the server's bounds, want at least its size, a batch (of 64) at a time", size, gotCounted, gotHolds)
	}
	if gotMost > 3*batch || gotHeld != 0 {
		t.Errorf("the stream held at most %d bytes counted (a batch is about %d) and %d at its end: want one batch at a time, given back once sent", gotMost, batch, gotHeld)
	}

	mu.Lock()
	refuse = connect.NewError(connect.CodeResourceExhausted, errors.New("answer bytes reached"))
	mu.Unlock()
	entries, err = drainLog(t, c, &inspectorv1.QueryLogRequest{Page: uint64(a), Limit: 200})
	if connect.CodeOf(err) != connect.CodeResourceExhausted || len(entries) != 0 {
		t.Errorf("QueryLog refused by the answer bounds: %d entries and %v, want none and resource_exhausted", len(entries), err)
	}
}
